import { hostname } from 'node:os';
import path from 'node:path';
import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { SovereignService } from '@aion/contracts';
import { createGrpcClient } from '@aion/grpc';
import { FileConnector } from './adapters/connectors/file-connector';
import { SovereignResidency } from './adapters/sovereign/sovereign-residency';
import { PostgresConnector } from './adapters/connectors/postgres-connector';
import { KafkaConnector } from './adapters/connectors/kafka-connector';
import { RestConnector } from './adapters/connectors/rest-connector';
import { S3Connector } from './adapters/connectors/s3-connector';
import { EgressPolicy } from './adapters/egress/egress-policy';
import { PostgresJobStore } from './adapters/db/job-store';
import { PostgresUploadStore } from './adapters/db/upload-store';
import { UploadConnector } from './adapters/connectors/upload-connector';
import { outbox } from './adapters/db/schema';
import { DuckDbEngine } from './adapters/duckdb/engine';
import { FsObjectStore } from './adapters/storage/fs-object-store';
import { S3ObjectStore } from './adapters/storage/s3-object-store';
import { registerPipelineApi } from './api/grpc-handlers';
import { dataPipelineInfraNeeds, type DataPipelineConfig } from './config';
import { ConnectorRegistry } from './core/connectors';
import { JobService } from './core/jobs';
import { PipelineStages } from './core/stages';
import { UploadSweeper } from './core/upload-sweeper';
import { UploadService } from './core/uploads';
import { PipelineWorker } from './core/worker';

/**
 * Composition root of the data-pipeline service (ingest, profile, clean, transform, quality gate, version).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createDataPipelineService(
  config: DataPipelineConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'data-pipeline',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: dataPipelineInfraNeeds.kafka,
      redis: false,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
    wire: ({
      infrastructure,
      outbox: box,
      logger,
      tokens,
      grpcCredentials,
      coLocated,
      metrics,
    }) => {
      const store = new PostgresJobStore(infrastructure.database!.db, box!.writer);
      const workDir = path.resolve(config.workDir);
      const engine = new DuckDbEngine({
        memoryLimit: config.memoryLimit,
        threads: config.engineThreads,
        tempDir: path.join(workDir, 'spill'),
      });
      const objects = config.s3Bucket
        ? new S3ObjectStore({
            bucket: config.s3Bucket,
            region: config.s3Region,
            prefix: config.s3Prefix,
            forcePathStyle: config.s3ForcePathStyle,
            ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
            ...(config.s3AccessKeyId ? { accessKeyId: config.s3AccessKeyId } : {}),
            ...(config.s3SecretAccessKey ? { secretAccessKey: config.s3SecretAccessKey } : {}),
          })
        : new FsObjectStore(path.resolve(config.storageDir));
      const egress = EgressPolicy.parse(config.egressAllow);
      const uploads = new UploadService(
        new PostgresUploadStore(infrastructure.database!.db, box!.writer),
        objects,
        { maxBytes: config.uploadMaxBytes, workDir, retentionMs: config.uploadRetentionMs },
      );
      const sweeper = new UploadSweeper(
        uploads,
        { intervalMs: config.uploadSweepMs, batch: 100 },
        logger,
      );
      const connectors = new ConnectorRegistry([
        new FileConnector(path.resolve(config.inboxDir)),
        new PostgresConnector(config.postgresSources, config.postgresBatchRows),
        new S3Connector(config.s3Sources, egress, path.join(workDir, 'downloads')),
        new RestConnector(config.restSources, egress, path.join(workDir, 'downloads')),
        new KafkaConnector(config.kafkaSources, egress, path.join(workDir, 'downloads')),
        new UploadConnector(uploads, path.join(workDir, 'downloads')),
      ]);
      const stages = new PipelineStages({
        connectors,
        engine,
        store: objects,
        workDir,
        qualityThreshold: config.qualityScoreThreshold,
      });
      const worker = new PipelineWorker(
        store,
        stages,
        {
          owner: `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`,
          leaseMs: config.leaseMs,
          pollMs: config.pollMs,
          stageTimeoutMs: config.stageTimeoutMs,
          retryBaseMs: config.retryBaseMs,
          retryMaxMs: config.retryMaxMs,
          progressIntervalMs: config.progressIntervalMs,
        },
        logger,
      );
      const jobs = new JobService(store, connectors, {
        maxAttempts: config.maxAttempts,
        qualityThreshold: config.qualityScoreThreshold,
        watchPollMs: config.watchPollMs,
        ...(config.jurisdiction
          ? {
              residency: {
                jurisdiction: config.jurisdiction,
                port: new SovereignResidency(
                  createGrpcClient(SovereignService, config.sovereignAddress, {
                    tokens,
                    credentials: grpcCredentials,
                    inProcess: coLocated,
                    metrics,
                    defaultDeadlineMs: 5_000,
                  }),
                  5_000,
                ),
              },
            }
          : {}),
        onQueued: () => worker.nudge(),
      });
      logger.info('data pipeline ready', {
        inbox: config.inboxDir,
        storage: config.s3Bucket ? `s3://${config.s3Bucket}/${config.s3Prefix}` : config.storageDir,
      });
      return {
        registerGrpc: (server) => registerPipelineApi(server, jobs, uploads),
        workers: [
          {
            name: 'pipeline-worker',
            start: () => worker.start(),
            stop: async () => {
              await worker.stop();
              await engine.close();
            },
          },
          {
            name: 'upload-retention',
            start: () => sweeper.start(),
            stop: () => sweeper.stop(),
          },
        ],
      };
    },
  });
}

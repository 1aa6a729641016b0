/**
 * The data-pipeline's job path as its composition root (apps/data-pipeline/src/
 * data-pipeline-service.ts) wires it, without the gRPC host: the PostgreSQL job queue and outbox,
 * the connector registry (file inbox, S3 through the egress policy), the DuckDB engine with the
 * service's configured memory limit and threads, the stages and a worker. Jobs are submitted
 * through JobService, as the gRPC handlers do, and run by PipelineWorker as the service's worker
 * does. Every stage's start and finish is recorded, to split a job's time by stage.
 */
import path from 'node:path';
import { loadConfig } from '@aion/config';
import { openPostgres } from '@aion/db';
import { OutboxWriter } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { FileConnector } from '../../apps/data-pipeline/src/adapters/connectors/file-connector';
import {
  S3Connector,
  type S3SourceCredentials,
} from '../../apps/data-pipeline/src/adapters/connectors/s3-connector';
import { PostgresJobStore } from '../../apps/data-pipeline/src/adapters/db/job-store';
import { outbox } from '../../apps/data-pipeline/src/adapters/db/schema';
import { DuckDbEngine } from '../../apps/data-pipeline/src/adapters/duckdb/engine';
import { EgressPolicy } from '../../apps/data-pipeline/src/adapters/egress/egress-policy';
import { FsObjectStore } from '../../apps/data-pipeline/src/adapters/storage/fs-object-store';
import { dataPipelineConfigSpec } from '../../apps/data-pipeline/src/config';
import { ConnectorRegistry } from '../../apps/data-pipeline/src/core/connectors';
import { JobService, type JobRequest } from '../../apps/data-pipeline/src/core/jobs';
import type { Job, Stage } from '../../apps/data-pipeline/src/core/model';
import type { Connector, JobStore } from '../../apps/data-pipeline/src/core/ports';
import { PipelineStages } from '../../apps/data-pipeline/src/core/stages';
import { PipelineWorker } from '../../apps/data-pipeline/src/core/worker';

export interface StackOptions {
  /** The database's application-role URL (row-level security applies). */
  databaseUrl: string;
  /** The inbox, object store and work directories go under it. */
  dir: string;
  /** The file source's inbox (default `<dir>/inbox`). */
  inbox?: string;
  s3?: { accounts: Record<string, S3SourceCredentials>; egressAllow: string };
}

/**
 * When each stage of the running job started and finished (performance.now()), and this process's
 * CPU time then (ms, every thread: DuckDB's run in this process). CPU time is the steadier
 * measure on a machine whose other load drifts.
 */
export interface StageMarks {
  start: Partial<Record<Stage | 'download', number>>;
  end: Partial<Record<Stage | 'download', number>>;
  cpuStart: Partial<Record<Stage, number>>;
  cpuEnd: Partial<Record<Stage, number>>;
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const TENANT = 'bench-tenant';

/** The service's engine settings: AION_PIPELINE_ENGINE_MEMORY_LIMIT / _THREADS or their defaults. */
export const engineSettings = () =>
  loadConfig({
    memoryLimit: dataPipelineConfigSpec.memoryLimit,
    engineThreads: dataPipelineConfigSpec.engineThreads,
  });

export function pipelineStack(options: StackOptions) {
  const marks: StageMarks = { start: {}, end: {}, cpuStart: {}, cpuEnd: {} };
  const database = openPostgres({ url: options.databaseUrl, max: 4 });
  const store = new PostgresJobStore(database.db, new OutboxWriter(outbox, 'aion/data-pipeline'));
  // Stage boundaries: startStage and a persisted finishStage, as the worker calls them.
  const timedStore = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'startStage' && prop !== 'finishStage')
        return typeof value === 'function' ? value.bind(target) : value;
      const method = value as (job: Job, stage: Stage, ...rest: unknown[]) => Promise<unknown>;
      return async (job: Job, stage: Stage, ...rest: unknown[]) => {
        if (prop === 'startStage') {
          marks.start[stage] = performance.now();
          marks.cpuStart[stage] = cpuMs();
        }
        const result = await method.call(target, job, stage, ...rest);
        if (prop === 'finishStage') {
          marks.end[stage] = performance.now();
          marks.cpuEnd[stage] = cpuMs();
        }
        return result;
      };
    },
  }) as JobStore;
  const settings = engineSettings();
  const workDir = path.join(options.dir, 'work');
  const engine = new DuckDbEngine({
    memoryLimit: settings.memoryLimit,
    threads: settings.engineThreads,
    tempDir: path.join(workDir, 'spill'),
  });
  const connectors: Connector[] = [
    new FileConnector(options.inbox ?? path.join(options.dir, 'inbox')),
  ];
  if (options.s3) {
    const s3 = new S3Connector(
      options.s3.accounts,
      EgressPolicy.parse(options.s3.egressAllow),
      path.join(workDir, 'downloads'),
    );
    // The download's share of the ingest stage.
    connectors.push({
      type: s3.type,
      check: (source) => s3.check(source),
      open: async (source, signal) => {
        marks.start.download = performance.now();
        const data = await s3.open(source, signal);
        marks.end.download = performance.now();
        return data;
      },
    });
  }
  const registry = new ConnectorRegistry(connectors);
  const stages = new PipelineStages({
    connectors: registry,
    engine,
    store: new FsObjectStore(path.join(options.dir, 'store')),
    workDir,
    qualityThreshold: 0.8,
  });
  const jobs = new JobService(timedStore, registry, { maxAttempts: 1, qualityThreshold: 0.8 });
  const worker = new PipelineWorker(timedStore, stages, {
    owner: 'bench',
    leaseMs: 60_000,
    pollMs: 50,
    stageTimeoutMs: 30 * 60_000,
    retryBaseMs: 1_000,
    retryMaxMs: 1_000,
  });
  const asTenant = <T>(fn: () => Promise<T>) =>
    runWithTenant(
      { tenantId: TENANT, subject: 'bench', roles: ['developer'], requestId: 'bench' },
      fn,
    );

  /** Submits a job as a tenant would and runs the queue dry; the finished job and its stages' marks. */
  async function runJob(request: Omit<JobRequest, 'dataContext' | 'datasetName'>) {
    Object.assign(marks, { start: {}, end: {}, cpuStart: {}, cpuEnd: {} });
    const submitted = performance.now();
    const { job } = await asTenant(() =>
      jobs.submit({ ...request, dataContext: {}, datasetName: 'bench' }),
    );
    while (await worker.runOnce());
    const finished = performance.now();
    const done = (await asTenant(() => jobs.get(job.id)))!;
    return { job: done, submitted, finished, marks: structuredClone(marks) };
  }

  return {
    engine,
    runJob,
    close: async () => {
      await engine.close();
      await database.close();
    },
  };
}

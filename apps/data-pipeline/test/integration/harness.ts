import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migratePostgres, openPostgres } from '@aion/db';
import { OutboxWriter, decodeEnvelope, payloadOf, type EventType } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { createTestDatabase, uniqueName, type TestDatabase } from '@aion/testing';
import { FileConnector } from '../../src/adapters/connectors/file-connector';
import { PostgresJobStore } from '../../src/adapters/db/job-store';
import { outbox } from '../../src/adapters/db/schema';
import { DuckDbEngine } from '../../src/adapters/duckdb/engine';
import { FsObjectStore } from '../../src/adapters/storage/fs-object-store';
import { ConnectorRegistry } from '../../src/core/connectors';
import type { Connector } from '../../src/core/ports';
import { JobService } from '../../src/core/jobs';
import { PipelineStages } from '../../src/core/stages';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');

export async function migratedDatabase(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  await migratePostgres(
    db.ownerUrl,
    { folder: migrations, prefix: 'dpl' },
    { appRole: db.appRole },
  );
  return db;
}

/** Temporary inbox, object store and scratch directories. */
export async function scratch() {
  const root = await mkdtemp(path.join(tmpdir(), 'dpl-int-'));
  const dirs = {
    root,
    inbox: path.join(root, 'inbox'),
    storage: path.join(root, 'store'),
    work: path.join(root, 'work'),
  };
  await mkdir(dirs.inbox, { recursive: true });
  return { ...dirs, remove: () => rm(root, { recursive: true, force: true }) };
}

/** The core on a real database: store, job service and stages, without the gRPC host. */
export function pipelineCore(
  db: TestDatabase,
  dirs: Awaited<ReturnType<typeof scratch>>,
  more: Connector[] = [],
) {
  const database = openPostgres({ url: db.appUrl, max: 4 });
  const store = new PostgresJobStore(database.db, new OutboxWriter(outbox, 'aion/data-pipeline'));
  const connectors = new ConnectorRegistry([new FileConnector(dirs.inbox), ...more]);
  const engine = new DuckDbEngine({
    memoryLimit: '256MB',
    threads: 1,
    tempDir: path.join(dirs.work, 'spill'),
  });
  const stages = new PipelineStages({
    connectors,
    engine,
    store: new FsObjectStore(dirs.storage),
    workDir: dirs.work,
    qualityThreshold: 0.8,
  });
  const jobs = new JobService(store, connectors, { maxAttempts: 3, qualityThreshold: 0.8 });
  return {
    store,
    engine,
    stages,
    jobs,
    close: async () => {
      await engine.close();
      await database.close();
    },
  };
}

export const asTenant = <T>(tenantId: string, fn: () => Promise<T>) =>
  runWithTenant(
    { tenantId, subject: 'tester', roles: ['developer'], requestId: uniqueName('r') },
    fn,
  );

/** A profile job of an upload, submitted as the tenant would (through JobService.submit). */
export const profileUpload = (
  core: Pick<ReturnType<typeof pipelineCore>, 'jobs'>,
  tenantId: string,
  uploadId: string,
) =>
  asTenant(tenantId, () =>
    core.jobs.submit({
      type: 'profile',
      source: { type: 'upload', upload_id: uploadId },
      spec: {},
      dataContext: {},
      datasetName: '',
      idempotencyKey: '',
    }),
  );

/** The job's events in outbox order: type and the per-job sequence they carry. */
export async function eventsOf(db: TestDatabase, jobId: string) {
  const rows = await db.queryAsOwner<{ event_type: string; value: Buffer }>(
    'select event_type, value from dpl_outbox where key = $1 order by seq',
    [jobId],
  );
  return rows.map((r) => {
    const env = decodeEnvelope(new Uint8Array(r.value));
    const payload = payloadOf(env, r.event_type as EventType) as unknown as { sequence: bigint };
    return {
      type: r.event_type,
      tenantId: env.tenantId,
      sequence: Number(payload.sequence),
      payload,
    };
  });
}

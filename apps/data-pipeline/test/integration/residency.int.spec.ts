// Residency: with AION_PIPELINE_JURISDICTION set, a job's data_context is checked with a real
// sovereign-ai service (a separate process, as deployed) before the job is queued.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InternalTokens } from '@aion/auth';
import {
  DataClassification,
  PipelineService,
  ResidencyAction,
  ClassificationTier,
  SovereignService,
} from '@aion/contracts';
import { createGrpcClient, type ClientOf } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  distributedEnv,
  migrateTestDatabase,
  onLoopback,
  startServiceProcess,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';
import { loadDataPipelineConfig } from '../../src/config';
import { createDataPipelineService } from '../../src/data-pipeline-service';
import { scratch } from './harness';

const SECRET = 'data-pipeline-residency-secret-0123456789';
const tenant = uniqueName('tenant');
let db: TestDatabase;
let dirs: Awaited<ReturnType<typeof scratch>>;
let sovereign: ServiceProcess;
let service: ReturnType<typeof createDataPipelineService>;
let pipeline: ClientOf<typeof PipelineService>;
let rules: ClientOf<typeof SovereignService>;

const as = <T>(role: string, fn: () => Promise<T>) =>
  runWithTenant(
    { tenantId: tenant, subject: `${role}-1`, roles: [role], requestId: uniqueName('r') },
    fn,
  );
const submit = (jurisdiction: string) =>
  as('developer', () =>
    pipeline.createJob({
      dataContext: { jurisdiction, classification: DataClassification.PII },
      spec: { type: 'profile', source: { type: 'file', path: 'people.csv' } },
    }),
  );

beforeAll(async () => {
  db = await createTestDatabase('dplresidency');
  migrateTestDatabase(db, ['sovereign-ai', 'data-pipeline']);
  dirs = await scratch();
  await writeFile(path.join(dirs.inbox, 'people.csv'), 'name\nann\n');
  sovereign = await startServiceProcess('sovereign-ai', {
    ...distributedEnv(db, SECRET),
    ...onLoopback('AION_SOVEREIGN_'),
  });
  const tokens = { tokens: new InternalTokens(SECRET, 'gateway') };
  rules = createGrpcClient(SovereignService, `127.0.0.1:${sovereign.grpcPort}`, tokens);
  service = createDataPipelineService(
    loadDataPipelineConfig({
      ...distributedEnv(db, SECRET),
      ...onLoopback('AION_PIPELINE_'),
      LOG_LEVEL: 'error',
      AION_PIPELINE_INBOX_DIR: dirs.inbox,
      AION_PIPELINE_STORAGE_DIR: dirs.storage,
      AION_PIPELINE_WORK_DIR: dirs.work,
      AION_PIPELINE_JURISDICTION: 'US',
      AION_PIPELINE_SOVEREIGN_ADDRESS: `127.0.0.1:${sovereign.grpcPort}`,
    }),
  );
  const running = (await service.start())!;
  pipeline = createGrpcClient(PipelineService, `127.0.0.1:${running.grpcPort}`, tokens);
}, 120_000);

afterAll(async () => {
  pipeline?.close();
  rules?.close();
  await service?.stop();
  sovereign?.kill('SIGTERM');
  await sovereign?.exited;
  await db?.drop();
  await dirs?.remove();
});

it('refuses a job whose data may not be processed where the pipeline runs, naming the rule', async () => {
  const { rule } = await as('admin', () =>
    rules.createResidencyRule({
      rule: {
        dataJurisdiction: 'DE',
        tier: ClassificationTier.ALL,
        action: ResidencyAction.DENY,
        targetJurisdictions: ['US'],
        priority: 1,
        description: 'German data stays out of the US',
      },
    }),
  );
  const refused = await submit('DE').then(
    () => undefined,
    (err: unknown) =>
      err as { code: string; message: string; details?: { field?: string; reason?: string }[] },
  );
  expect(refused?.code).toBe('sovereign.residency_violation');
  expect(refused?.message).toContain(`rule ${rule!.id}`);
  expect(refused?.details?.[0]).toMatchObject({
    field: 'data_context.jurisdiction',
    reason: rule!.id,
  });
  const listed = await as('observer', () => pipeline.listJobs({}));
  expect(listed.jobs).toEqual([]);
  // Data whose rules allow the pipeline's jurisdiction is queued.
  const { job } = await submit('US');
  expect(job?.id).toMatch(/^[0-9a-f-]{36}$/);
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createTestDatabase,
  distributedEnv,
  eventually,
  httpCall,
  migrateTestDatabase,
  onLoopback,
  startServiceProcess,
  testIdentityProvider,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';

// Data-pipeline jobs through the gateway's REST API (/api/v1/pipeline): the gateway and the
// data-pipeline service as separate processes (as main.ts starts them) on real PostgreSQL and Kafka.

const BOOTSTRAP = 'e2e-pipeline-bootstrap-key-0123456789';
const idp = testIdentityProvider();
const tenant = uniqueName('dpl-rest');
let db: TestDatabase;
let dir: string;
let pipeline: ServiceProcess;
let gatewayProcess: ServiceProcess;
let gateway: string;

const JOBS = '/api/v1/pipeline/jobs';
const call = (
  method: string,
  url: string,
  key: string,
  body?: unknown,
  headers: Record<string, string> = {},
) => httpCall(gateway, method, url, { key, headers, ...(body === undefined ? {} : { body }) });
const observer = () =>
  idp.sign({
    subject: `observer-of-${tenant}`,
    tenantId: tenant,
    roles: ['observer'],
    expiresIn: '30m',
  });

beforeAll(async () => {
  db = await createTestDatabase('e2edpl');
  migrateTestDatabase(db, ['gateway', 'data-pipeline']);
  dir = await mkdtemp(path.join(tmpdir(), 'e2e-dpl-'));
  await writeFile(
    path.join(dir, 'sales.csv'),
    'id,email,amount\n1,a@example.com,10\n2,b@example.com,20\n3,c@example.com,\n',
  );
  const secret = randomBytes(24).toString('hex');
  pipeline = await startServiceProcess('data-pipeline', {
    ...distributedEnv(db, secret),
    ...onLoopback('AION_PIPELINE_'),
    AION_PIPELINE_INBOX_DIR: dir,
    AION_PIPELINE_STORAGE_DIR: path.join(dir, 'store'),
    AION_PIPELINE_WORK_DIR: path.join(dir, 'work'),
    AION_PIPELINE_ENGINE_THREADS: '1',
  });
  gatewayProcess = await startServiceProcess('gateway', {
    ...distributedEnv(db, secret),
    ...onLoopback('AION_GATEWAY_'),
    AION_GATEWAY_OPS_PORT: '0',
    AION_GATEWAY_PIPELINE_ADDRESS: `127.0.0.1:${pipeline.grpcPort}`,
    // Nothing here calls them.
    AION_GATEWAY_ORCHESTRATOR_ADDRESS: '127.0.0.1:9',
    AION_GATEWAY_SOVEREIGN_ADDRESS: '127.0.0.1:9',
    AION_GATEWAY_OBSERVABILITY_ADDRESS: '127.0.0.1:9',
    AION_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP,
    AION_BOOTSTRAP_TENANT: tenant,
    ...idp.gatewayEnv,
  });
  gateway = `http://127.0.0.1:${gatewayProcess.httpPort}`;
}, 120_000);

afterAll(async () => {
  for (const p of [gatewayProcess, pipeline]) {
    p?.kill('SIGTERM');
    await p?.exited;
  }
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pipeline jobs through the gateway', () => {
  it('queues a profile job (202, Idempotency-Key), runs it, and serves the job and its profile', async () => {
    const body = {
      type: 'profile',
      source: { type: 'file', path: 'sales.csv' },
      data_context: { jurisdiction: 'DE' },
    };
    const created = await call('POST', JOBS, BOOTSTRAP, body, { 'idempotency-key': 'job-1' });
    expect(created.status).toBe(202);
    expect(created.json).toMatchObject({
      type: 'profile',
      status: 'pending',
      dataset: 'sales',
      source: { type: 'file', path: 'sales.csv' },
    });
    const id = created.json['id'] as string;
    const again = await call('POST', JOBS, BOOTSTRAP, body, { 'idempotency-key': 'job-1' });
    expect(again.json['id']).toBe(id);

    const done = await eventually(async () => {
      const r = await call('GET', `${JOBS}/${id}`, BOOTSTRAP);
      return r.json['status'] === 'succeeded' ? r : undefined;
    }, 30_000);
    expect(done.json).toMatchObject({
      stage: 'profile',
      rows_processed: 3,
      error: null,
      attempts: 1,
    });

    const profile = await call('GET', `${JOBS}/${id}/profile`, BOOTSTRAP);
    expect(profile.status).toBe(200);
    expect(profile.json).toMatchObject({ job_id: id, row_count: 3, duplicate_rows: 0 });
    const columns = profile.json['columns'] as { name: string }[];
    expect(columns.find((c) => c.name === 'email')).toMatchObject({
      semantic_type: 'email',
      personal_data: true,
      null_count: 0,
    });
    expect(columns.find((c) => c.name === 'amount')).toMatchObject({
      type: 'BIGINT',
      null_count: 1,
      min: 10,
      max: 20,
      mean: 15,
    });

    const listed = await call('GET', `${JOBS}?status=succeeded`, BOOTSTRAP);
    expect((listed.json['data'] as { id: string }[]).map((j) => j.id)).toContain(id);
    const cancel = await call('POST', `${JOBS}/${id}/cancel`, BOOTSTRAP, {});
    expect(cancel.status).toBe(409);
  });

  it('answers bad input with the error envelope (4xx) naming the field, never 500', async () => {
    const missing = await call('POST', JOBS, BOOTSTRAP, { type: 'profile' });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ error_code: 'validation.invalid_argument' });
    const outside = await call('POST', JOBS, BOOTSTRAP, {
      type: 'profile',
      source: { type: 'file', path: '../x.csv' },
    });
    expect(outside.status).toBe(400);
    expect(JSON.stringify(outside.json['details'])).toContain('source.path');
    const unknown = await call('POST', JOBS, BOOTSTRAP, {
      type: 'profile',
      source: { type: 'file', path: 'sales.csv' },
      spec: { expectation_suite: { expectations: [{ type: 'expect_magic', kwargs: {} }] } },
    });
    // The schema lists the expectation types the gate evaluates: another is refused at the edge.
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.json['details'])).toContain('expectation_suite');
    expect(
      (await call('GET', `${JOBS}/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, BOOTSTRAP))
        .status,
    ).toBe(404);
    expect((await call('GET', `${JOBS}/not-a-uuid`, BOOTSTRAP)).status).toBe(400);
    const denied = await call('POST', JOBS, await observer(), {
      type: 'profile',
      source: { type: 'file', path: 'sales.csv' },
    });
    expect(denied.status).toBe(403);
  });
});

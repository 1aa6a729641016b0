// The service as main.ts starts it (distributed mode, real PostgreSQL and Kafka), called over gRPC
// as the gateway does: jobs end to end with the quality gate and versioning, and refusals.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JsonObject } from '@bufbuild/protobuf';
import { InternalTokens } from '@aion/auth';
import { JobStatus, PipelineService } from '@aion/contracts';
import { createGrpcClient, type ClientOf } from '@aion/grpc';
import type { RunningService } from '@aion/runtime';
import { runWithTenant } from '@aion/tenancy';
import {
  distributedEnv,
  eventually,
  onLoopback,
  uniqueName,
  type TestDatabase,
} from '@aion/testing';
import { loadDataPipelineConfig } from '../../src/config';
import { createDataPipelineService } from '../../src/data-pipeline-service';
import { migratedDatabase, scratch } from './harness';

const SECRET = 'data-pipeline-int-test-secret-0123456789';
let db: TestDatabase;
let dirs: Awaited<ReturnType<typeof scratch>>;
let service: ReturnType<typeof createDataPipelineService>;
let client: ClientOf<typeof PipelineService>;
const tenant = uniqueName('tenant');

const as = <T>(role: string, fn: (c: typeof client) => Promise<T>, tenantId = tenant) =>
  runWithTenant({ tenantId, subject: `${role}-1`, roles: [role], requestId: uniqueName('r') }, () =>
    fn(client),
  );

const grpcError = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('the call succeeded');
};

const finished = (id: string) =>
  eventually(async () => {
    const { job } = await as('observer', (c) => c.getJob({ id }));
    return job && job.status !== JobStatus.PENDING && job.status !== JobStatus.RUNNING
      ? job
      : undefined;
  }, 30_000);

const SUITE: JsonObject = {
  name: 'orders',
  expectations: [
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'id' }, severity: 'critical' },
    { type: 'expect_column_values_to_be_unique', kwargs: { column: 'id' }, severity: 'warning' },
    {
      type: 'expect_column_values_to_be_between',
      kwargs: { column: 'amount', min_value: 0 },
      severity: 'warning',
    },
  ],
};

beforeAll(async () => {
  db = await migratedDatabase('dplservice');
  dirs = await scratch();
  await db.queryAsOwner(
    'create table orders_src (id int, amount double precision, placed timestamptz, note text)',
  );
  await db.queryAsOwner(
    `insert into orders_src select g, g * 1.5, timestamptz '2024-01-01' + g * interval '1 hour', 'n' || g from generate_series(1, 2500) g`,
  );
  await writeFile(path.join(dirs.inbox, 'orders.csv'), 'id,amount\n1,10\n2,20\n2,30\n');
  service = createDataPipelineService(
    loadDataPipelineConfig({
      ...distributedEnv(db, SECRET),
      ...onLoopback('AION_PIPELINE_'),
      LOG_LEVEL: 'error',
      AION_PIPELINE_INBOX_DIR: dirs.inbox,
      AION_PIPELINE_STORAGE_DIR: dirs.storage,
      AION_PIPELINE_WORK_DIR: dirs.work,
      AION_PIPELINE_POLL_MS: '100',
      AION_PIPELINE_ENGINE_THREADS: '1',
      AION_PIPELINE_POSTGRES_SOURCES: JSON.stringify({ shop: db.ownerUrl }),
      // 2,500 rows come in three fetches from the cursor.
      AION_PIPELINE_POSTGRES_BATCH_ROWS: '1000',
    }),
  );
  const running: RunningService = (await service.start())!;
  client = createGrpcClient(PipelineService, `127.0.0.1:${running.grpcPort}`, {
    tokens: new InternalTokens(SECRET, 'gateway'),
  });
}, 60_000);

afterAll(async () => {
  client?.close();
  await service?.stop();
  await db?.drop();
  await dirs?.remove();
});

describe('the data-pipeline service over gRPC', () => {
  it('ingests a file through the quality gate into an immutable, content-addressed version', async () => {
    const create = (key: string) =>
      as('developer', (c) =>
        c.createJob({
          datasetId: 'orders',
          idempotencyKey: key,
          dataContext: { jurisdiction: 'DE' },
          spec: {
            type: 'ingest',
            source: { type: 'file', path: 'orders.csv' },
            expectation_suite: SUITE,
            quality_threshold: 0.6,
          },
        }),
      );
    const { job } = await create('v-1');
    expect(job).toMatchObject({ type: 'ingest', status: JobStatus.PENDING, datasetId: 'orders' });
    const done = await finished(job!.id);
    expect(done).toMatchObject({ status: JobStatus.SUCCEEDED, rowsProcessed: 3n });
    expect(done.qualityScore).toBeCloseTo(2 / 3);
    expect(done.dataVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(done.outputUri).toBe(
      `file://${dirs.storage}/datasets/${tenant}/orders/${done.dataVersion}`,
    );
    const dir = path.join(dirs.storage, 'datasets', tenant, 'orders', done.dataVersion);
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'parquet',
      rowCount: 3,
      files: [{ path: 'data.parquet' }],
    });
    expect(await readFile(path.join(dir, 'orders.parquet.dvc'), 'utf8')).toContain(
      `md5: ${manifest.files[0].md5}`,
    );

    const report = await as('observer', (c) => c.getQualityReport({ jobId: job!.id }));
    expect(report.report).toMatchObject({ passed: true, threshold: 0.6 });
    expect(
      report.report!.checks.map((c) => [c.expectationType, c.passed, Number(c.unexpectedCount)]),
    ).toEqual([
      ['expect_column_values_to_not_be_null', true, 0],
      ['expect_column_values_to_be_unique', false, 2],
      ['expect_column_values_to_be_between', true, 0],
    ]);

    // The same content again is the same version, not a second one.
    const again = await finished((await create('v-2')).job!.id);
    expect(again.dataVersion).toBe(done.dataVersion);
    const versions = await as('observer', (c) => c.listDatasetVersions({ datasetId: 'orders' }));
    expect(versions.versions.map((v) => [v.number, v.contentSha256, v.rowCount])).toEqual([
      [1, done.dataVersion, 3n],
    ]);
  });

  it('fails the gate on a critical expectation whatever the score, and versions nothing', async () => {
    const { job } = await as('developer', (c) =>
      c.createJob({
        datasetId: 'orders-strict',
        spec: {
          type: 'ingest',
          source: { type: 'file', path: 'orders.csv' },
          quality_threshold: 0.1,
          expectation_suite: {
            expectations: [
              {
                type: 'expect_column_values_to_be_unique',
                kwargs: { column: 'id' },
                severity: 'critical',
              },
              { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'id' } },
            ],
          },
        },
      }),
    );
    const failed = await finished(job!.id);
    expect(failed).toMatchObject({
      status: JobStatus.FAILED,
      errorCode: 'validation.unprocessable',
      dataVersion: '',
    });
    expect(failed.errorMessage).toContain(
      'critical expectation failed: expect_column_values_to_be_unique on "id"',
    );
    const versions = await as('observer', (c) =>
      c.listDatasetVersions({ datasetId: 'orders-strict' }),
    );
    expect(versions.versions).toEqual([]);
    // Without a threshold of its own a job gates at AION_PIPELINE_QUALITY_SCORE_THRESHOLD (0.8).
    const { job: defaults } = await as('developer', (c) =>
      c.createJob({
        datasetId: 'orders-default',
        spec: {
          type: 'ingest',
          source: { type: 'file', path: 'orders.csv' },
          expectation_suite: SUITE,
        },
      }),
    );
    const under = await finished(defaults!.id);
    expect(under).toMatchObject({ status: JobStatus.FAILED, dataVersion: '' });
    expect(under.errorMessage).toContain('quality score 0.667 is under 0.8');
  });

  it('profiles a PostgreSQL table read in batches through a cursor', async () => {
    const { job } = await as('developer', (c) =>
      c.createJob({
        spec: {
          type: 'profile',
          source: { type: 'postgres', connection: 'shop', table: 'orders_src' },
        },
      }),
    );
    const done = await finished(job!.id);
    expect(done).toMatchObject({ status: JobStatus.SUCCEEDED, rowsProcessed: 2500n });
    const { profile } = await as('observer', (c) => c.profileDataset({ jobId: job!.id }));
    const col = (n: string) => profile!.columns.find((c) => c.name === n)!;
    expect(profile!.rowCount).toBe(2500n);
    expect(col('id')).toMatchObject({
      inferredType: 'BIGINT',
      min: 1,
      max: 2500,
      distinctCount: 2500n,
    });
    expect(col('amount').mean).toBeCloseTo(1875.75);
    expect(col('placed')).toMatchObject({
      inferredType: 'TIMESTAMP WITH TIME ZONE',
      semanticType: 'date',
    });
    expect(col('note').details).toMatchObject({ top_values: expect.any(Array) });
  });

  it('refuses bad requests with the field named, and hides jobs from other tenants and roles', async () => {
    const refused = (spec: Record<string, unknown>) =>
      grpcError(as('developer', (c) => c.createJob({ spec: spec as never })));
    const outside = await refused({
      type: 'profile',
      source: { type: 'file', path: '../secret.csv' },
    });
    expect(outside.code).toBe('validation.invalid_argument');
    expect(outside.message).toContain('source.path');
    const unknownType = await refused({
      type: 'profile',
      source: { type: 'file', path: 'orders.csv' },
      expectation_suite: { expectations: [{ type: 'expect_nothing', kwargs: {} }] },
    });
    expect(unknownType.code).toBe('validation.unprocessable');
    expect(unknownType.message).toContain('expectations[0].type');
    const unparsable = await refused({
      type: 'profile',
      source: { type: 'file', path: 'orders.csv' },
      expectation_suite: '{"expectations": [',
    });
    expect(unparsable.message).toContain('not valid JSON');
    const empty = await refused({
      type: 'profile',
      source: { type: 'file', path: 'orders.csv' },
      expectation_suite: { expectations: [] },
    });
    expect(empty.message).toContain('empty');
    expect(
      (await refused({ type: 'teleport', source: { type: 'file', path: 'orders.csv' } })).code,
    ).toBe('validation.invalid_argument');
    expect(
      (
        await refused({
          type: 'profile',
          source: { type: 'postgres', connection: 'shop', query: 'delete from orders_src' },
        })
      ).message,
    ).toContain('source.query');

    const { job } = await as('developer', (c) =>
      c.createJob({ spec: { type: 'profile', source: { type: 'file', path: 'orders.csv' } } }),
    );
    expect(
      (await grpcError(as('developer', (c) => c.getJob({ id: job!.id }), uniqueName('other'))))
        .code,
    ).toBe('resource.not_found');
    expect((await grpcError(as('developer', (c) => c.getJob({ id: 'not-a-uuid' })))).code).toBe(
      'resource.not_found',
    );
    expect(
      (await grpcError(as('observer', (c) => c.createJob({ spec: { type: 'profile' } })))).code,
    ).toBe('auth.forbidden');
    await finished(job!.id);
    const listed = await as('observer', (c) => c.listJobs({ status: JobStatus.SUCCEEDED }));
    expect(listed.jobs.map((j) => j.id)).toContain(job!.id);
  });
});

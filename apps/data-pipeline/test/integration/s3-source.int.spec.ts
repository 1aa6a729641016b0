// The S3 source connector on a real S3-compatible server (SeaweedFS): CSV, JSON lines and Parquet
// objects ingested through the job queue, credentials by name, and the egress allowlist enforced.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { uniqueName, type TestDatabase } from '@aion/testing';
import { S3Connector } from '../../src/adapters/connectors/s3-connector';
import { EgressPolicy } from '../../src/adapters/egress/egress-policy';
import { PipelineWorker } from '../../src/core/worker';
import { asTenant, migratedDatabase, pipelineCore, scratch } from './harness';
import { startSeaweedFs, type SeaweedFs } from './seaweedfs';

let weed: SeaweedFs;
let dirs: Awaited<ReturnType<typeof scratch>>;
let db: TestDatabase;
let core: ReturnType<typeof pipelineCore>;
const tenant = uniqueName('tenant');
const scratchDir = () => path.join(dirs.work, 's3-downloads');

const accounts = () => ({
  lake: {
    endpoint: weed.endpoint,
    access_key_id: weed.accessKeyId,
    secret_access_key: weed.secretAccessKey,
  },
  wrong: {
    endpoint: weed.endpoint,
    access_key_id: weed.accessKeyId,
    secret_access_key: 'not-the-secret-0123456789',
  },
});

beforeAll(async () => {
  weed = await startSeaweedFs();
  dirs = await scratch();
  db = await migratedDatabase('dpls3src');
  // Loopback is refused unless named: the test server's address and port are allowed explicitly.
  const egress = EgressPolicy.parse(new URL(weed.endpoint).host);
  core = pipelineCore(db, dirs, [new S3Connector(accounts(), egress, scratchDir())]);
  const client = new S3Client({
    endpoint: weed.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: weed.accessKeyId, secretAccessKey: weed.secretAccessKey },
  });
  const put = (Key: string, Body: Uint8Array | string) =>
    client.send(new PutObjectCommand({ Bucket: weed.bucket, Key, Body }));
  const rows = Array.from({ length: 5_000 }, (_, i) => `${i},item-${i},${(i * 1.5).toFixed(1)}`);
  await put('in/items.csv', ['id,name,price', ...rows].join('\n'));
  await put('in/items.jsonl', '{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n{"id":3,"name":"c"}\n');
  await put('in/bad.jsonl', '{"id":1}\n{"id":2,\n');
  // A Parquet object written by the engine from the CSV above.
  const csv = path.join(dirs.root, 'items.csv');
  await writeFile(csv, ['id,name,price', ...rows].join('\n'));
  const parquet = path.join(dirs.root, 'items.parquet');
  await core.engine.ingest({ kind: 'file', path: csv, format: 'csv' }, parquet);
  await put('in/items.parquet', await readFile(parquet));
  client.destroy();
}, 1_900_000);

afterAll(async () => {
  await core?.close();
  await weed?.stop();
  await db?.drop();
  await dirs?.remove();
});

const submit = (source: Record<string, unknown>) =>
  asTenant(tenant, () =>
    core.jobs.submit({
      type: 'ingest',
      source,
      spec: {},
      dataContext: {},
      datasetName: '',
      idempotencyKey: '',
    }),
  );
const run = async (source: Record<string, unknown>) => {
  const { job } = await submit(source);
  const worker = new PipelineWorker(core.store, core.stages, {
    owner: 's3src',
    leaseMs: 10_000,
    pollMs: 50,
    stageTimeoutMs: 60_000,
    retryBaseMs: 10,
    retryMaxMs: 20,
  });
  while (await worker.runOnce());
  return asTenant(tenant, () => core.jobs.get(job.id));
};
const s3 = (key: string, credentials = 'lake') => ({
  type: 's3',
  credentials,
  bucket: weed.bucket,
  key,
});

describe('the S3 source on SeaweedFS', () => {
  it.each([
    ['in/items.csv', 5_000],
    ['in/items.jsonl', 3],
    ['in/items.parquet', 5_000],
  ])('ingests %s through a job, leaving no download behind', async (key, rows) => {
    const job = await run(s3(key));
    expect(job).toMatchObject({ status: 'succeeded', rowsProcessed: rows });
    // The job holds the account's name only; its key is configuration, never stored with the job.
    expect(JSON.stringify(job)).not.toContain(weed.secretAccessKey);
    expect(await readdir(scratchDir())).toEqual([]);
  });

  it('fails a job naming the object when it is missing, malformed or the key is wrong', async () => {
    const missing = await run(s3('in/none.csv'));
    expect(missing).toMatchObject({ status: 'failed', errorCode: 'validation.unprocessable' });
    expect(missing.errorDetails).toEqual([expect.objectContaining({ field: 'source.key' })]);
    const forbidden = await run(s3('in/items.csv', 'wrong'));
    expect(forbidden).toMatchObject({ status: 'failed', errorCode: 'validation.unprocessable' });
    expect(forbidden.errorDetails).toEqual([
      expect.objectContaining({ field: 'source.key', reason: 'forbidden' }),
    ]);
    const bad = await run(s3('in/bad.jsonl'));
    expect(bad).toMatchObject({ status: 'failed', errorCode: 'validation.unprocessable' });
    expect(bad.errorMessage).toMatch(/jsonl file could not be read/);
    expect(await readdir(scratchDir())).toEqual([]);
  });

  it('refuses an object over the size bound, leaving no partial download', async () => {
    const small = new S3Connector(
      accounts(),
      EgressPolicy.parse(new URL(weed.endpoint).host),
      scratchDir(),
      1_000,
    );
    await expect(small.open(s3('in/items.csv'), AbortSignal.timeout(10_000))).rejects.toMatchObject(
      {
        details: [expect.objectContaining({ field: 'source.key', reason: 'too_large' })],
      },
    );
    expect(await readdir(scratchDir())).toEqual([]);
  });

  it('ends the download when the stage is aborted, leaving no file', async () => {
    const connector = new S3Connector(
      accounts(),
      EgressPolicy.parse(new URL(weed.endpoint).host),
      scratchDir(),
    );
    const controller = new AbortController();
    const opening = connector.open(s3('in/items.csv'), controller.signal);
    controller.abort(new Error('the stage timed out'));
    await expect(opening).rejects.toThrow(/could not be downloaded: the stage timed out/);
    expect(await readdir(scratchDir())).toEqual([]);
  });

  it('refuses a source naming no configured account, or a bad key', async () => {
    // A name nothing is configured under is not found; a name of the wrong type is invalid.
    await expect(submit(s3('in/items.csv', 'nobody'))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(submit({ ...s3('in/items.csv'), credentials: 7 })).rejects.toMatchObject({
      code: 'validation.invalid_argument',
      details: [expect.objectContaining({ field: 'source.credentials' })],
    });
    await expect(submit(s3('in/items.xlsx'))).rejects.toMatchObject({
      details: [expect.objectContaining({ field: 'source.key' })],
    });
  });

  it('refuses the loopback endpoint when the allowlist does not name it', async () => {
    const strict = new S3Connector(accounts(), EgressPolicy.parse('*'), scratchDir());
    expect(() => strict.check(s3('in/items.csv'))).toThrow(/loopback address/);
    // A name resolving to loopback is refused on its resolved address, at connect time too.
    const named = new S3Connector(
      { lake: { ...accounts().lake, endpoint: weed.endpoint.replace('127.0.0.1', 'localhost') } },
      EgressPolicy.parse('localhost'),
      scratchDir(),
    );
    await expect(named.open(s3('in/items.csv'), AbortSignal.timeout(10_000))).rejects.toThrow(
      /localhost resolves to 127\.0\.0\.1, a loopback address/,
    );
    expect(await readdir(scratchDir())).toEqual([]);
  });
});

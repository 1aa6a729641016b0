// The S3 object store on a real S3-compatible server (SeaweedFS), and a job versioned into it.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { uniqueName, type TestDatabase } from '@aion/testing';
import { FileConnector } from '../../src/adapters/connectors/file-connector';
import { S3ObjectStore } from '../../src/adapters/storage/s3-object-store';
import { ConnectorRegistry } from '../../src/core/connectors';
import { PipelineStages } from '../../src/core/stages';
import { PipelineWorker } from '../../src/core/worker';
import { DuckDbEngine } from '../../src/adapters/duckdb/engine';
import { asTenant, migratedDatabase, pipelineCore, scratch } from './harness';
import { startSeaweedFs, type SeaweedFs } from './seaweedfs';

let weed: SeaweedFs;
let store: S3ObjectStore;
let dirs: Awaited<ReturnType<typeof scratch>>;
let db: TestDatabase;

const s3 = (overrides: Partial<ConstructorParameters<typeof S3ObjectStore>[0]> = {}) =>
  new S3ObjectStore({
    endpoint: weed.endpoint,
    region: 'us-east-1',
    bucket: weed.bucket,
    prefix: 'aion',
    forcePathStyle: true,
    accessKeyId: weed.accessKeyId,
    secretAccessKey: weed.secretAccessKey,
    ...overrides,
  });

beforeAll(async () => {
  weed = await startSeaweedFs();
  store = s3();
  dirs = await scratch();
  db = await migratedDatabase('dpls3');
}, 1_900_000);

afterAll(async () => {
  store?.close();
  await weed?.stop();
  await db?.drop();
  await dirs?.remove();
});

describe('S3ObjectStore on SeaweedFS', () => {
  it('puts and gets files and bytes, and answers for missing keys', async () => {
    const src = path.join(dirs.root, 'in.bin');
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    await writeFile(src, bytes);
    await store.putFile('a/b/in.bin', src);
    expect(await store.exists('a/b/in.bin')).toBe(true);
    expect(await store.exists('a/b/none.bin')).toBe(false);
    const back = path.join(dirs.root, 'out', 'in.bin');
    await store.getFile('a/b/in.bin', back);
    expect(Buffer.compare(await readFile(back), bytes)).toBe(0);
    await store.putBytes('a/note.txt', Buffer.from('hello'));
    expect(Buffer.from((await store.getBytes('a/note.txt'))!).toString()).toBe('hello');
    expect(await store.getBytes('a/missing.txt')).toBeUndefined();
    expect(store.uri('a/note.txt')).toBe(`s3://${weed.bucket}/aion/a/note.txt`);
  });

  it('is refused with a wrong secret (the server checks signatures)', async () => {
    const wrong = s3({ secretAccessKey: 'not-the-secret-0123456789' });
    await expect(wrong.putBytes('x/y.txt', Buffer.from('no'))).rejects.toThrow();
    wrong.close();
    expect(await store.exists('x/y.txt')).toBe(false);
  });

  it('versions a job into the bucket: data, manifest and .dvc pointer under the content address', async () => {
    await writeFile(path.join(dirs.inbox, 'items.csv'), 'sku,qty\na,1\nb,2\n');
    const core = pipelineCore(db, dirs);
    const engine = new DuckDbEngine({
      memoryLimit: '256MB',
      threads: 1,
      tempDir: path.join(dirs.work, 'spill'),
    });
    const stages = new PipelineStages({
      connectors: new ConnectorRegistry([new FileConnector(dirs.inbox)]),
      engine,
      store,
      workDir: path.join(dirs.work, 'other-replica'),
      qualityThreshold: 0.8,
    });
    const tenant = uniqueName('tenant');
    try {
      const { job } = await asTenant(tenant, () =>
        core.jobs.submit({
          type: 'ingest',
          source: { type: 'file', path: 'items.csv' },
          spec: {},
          dataContext: {},
          datasetName: '',
          idempotencyKey: '',
        }),
      );
      const worker = new PipelineWorker(core.store, stages, {
        owner: 's3',
        leaseMs: 10_000,
        pollMs: 50,
        stageTimeoutMs: 60_000,
        retryBaseMs: 10,
        retryMaxMs: 20,
      });
      while (await worker.runOnce());
      const done = await asTenant(tenant, () => core.jobs.get(job.id));
      expect(done).toMatchObject({ status: 'succeeded', rowsProcessed: 2 });
      const prefix = `datasets/${tenant}/items/${done.dataVersion}`;
      expect(done.outputUri).toBe(`s3://${weed.bucket}/aion/${prefix}`);
      const manifest = JSON.parse(
        Buffer.from((await store.getBytes(`${prefix}/manifest.json`))!).toString(),
      );
      expect(manifest).toMatchObject({ rowCount: 2, files: [{ path: 'data.parquet' }] });
      expect(
        Buffer.from((await store.getBytes(`${prefix}/items.parquet.dvc`))!).toString(),
      ).toContain(manifest.files[0].md5);
      // The staged ingest output is in the bucket too: another replica resumes from there.
      expect(await store.exists(`work/${tenant}/${job.id}/ingest.parquet`)).toBe(true);
    } finally {
      await engine.close();
      await core.close();
    }
  });
});

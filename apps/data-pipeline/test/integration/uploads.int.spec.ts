// Uploaded files as job sources on real PostgreSQL: stored per tenant with their sha256,
// idempotent by key, refused past the limit with nothing left behind, read by a job of the
// same tenant and not found for another.
import { createHash, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { openPostgres } from '@aion/db';
import { OutboxWriter } from '@aion/events';
import { uniqueName, type TestDatabase } from '@aion/testing';
import { UploadConnector } from '../../src/adapters/connectors/upload-connector';
import { PostgresUploadStore } from '../../src/adapters/db/upload-store';
import { outbox } from '../../src/adapters/db/schema';
import { FsObjectStore } from '../../src/adapters/storage/fs-object-store';
import { UploadService } from '../../src/core/uploads';
import { asTenant, migratedDatabase, pipelineCore, scratch, profileUpload } from './harness';

let db: TestDatabase;
let dirs: Awaited<ReturnType<typeof scratch>>;
let database: ReturnType<typeof openPostgres>;
let uploads: UploadService;
let core: ReturnType<typeof pipelineCore>;
const tenant = uniqueName('up');
const other = uniqueName('up-other');
const never = new AbortController().signal;

async function* bytesOf(...parts: string[]) {
  for (const part of parts) yield Buffer.from(part);
}
const header = (format: string, idempotencyKey = '') => ({
  format,
  fileName: 'orders.csv',
  idempotencyKey,
});
const CSV = 'id,amount\n1,10\n2,20\n2,20\n';

beforeAll(async () => {
  db = await migratedDatabase('dplup');
  dirs = await scratch();
  database = openPostgres({ url: db.appUrl, max: 2 });
  uploads = new UploadService(
    new PostgresUploadStore(database.db, new OutboxWriter(outbox, 'aion/data-pipeline')),
    new FsObjectStore(dirs.storage),
    { maxBytes: 1000, workDir: dirs.work, retentionMs: 86_400_000 },
  );
  core = pipelineCore(db, dirs, [new UploadConnector(uploads, path.join(dirs.work, 'downloads'))]);
}, 60_000);

afterAll(async () => {
  await core?.close();
  await database?.close();
  await db?.drop();
  await dirs?.remove();
});

describe('uploads', () => {
  it('stores the bytes under the tenant with their sha256; a job of the tenant profiles them', async () => {
    const { upload, replayed } = await asTenant(tenant, () =>
      uploads.receive(tenant, header('csv'), bytesOf('id,amount\n1,10\n', '2,20\n2,20\n'), never),
    );
    expect(replayed).toBe(false);
    expect(upload).toMatchObject({
      tenantId: tenant,
      format: 'csv',
      bytes: CSV.length,
      sha256: createHash('sha256').update(CSV).digest('hex'),
      objectKey: `uploads/${tenant}/${upload.id}/data.csv`,
    });
    const { job } = await profileUpload(core, tenant, upload.id);
    expect(job.datasetName).toBe('upload');
    const ingest = await asTenant(tenant, () =>
      core.stages.run('ingest', job, {}, new AbortController().signal),
    );
    expect(ingest.checkpoint.rows).toBe(3);
    const profiled = await asTenant(tenant, () =>
      core.stages.run('profile', job, { ingest: ingest.checkpoint }, never),
    );
    expect(profiled.profile).toMatchObject({ rowCount: 3, duplicateRows: 1 });
    // The download the connector made for the engine is gone once read.
    expect(await readdir(path.join(dirs.work, 'downloads', tenant))).toEqual([]);
  });

  it('is not found for another tenant, nor by an id that names no upload', async () => {
    const { upload } = await asTenant(tenant, () =>
      uploads.receive(tenant, header('csv'), bytesOf(CSV), never),
    );
    const submit = (tenantId: string, id: string) => profileUpload(core, tenantId, id);
    await expect(submit(other, upload.id)).rejects.toMatchObject({ code: 'resource.not_found' });
    await expect(submit(tenant, randomUUID())).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(submit(tenant, 'not-a-uuid')).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(
      asTenant(tenant, () =>
        core.jobs.submit({
          type: 'profile',
          source: { type: 'upload', upload_id: upload.id, path: '/etc/passwd' },
          spec: {},
          dataContext: {},
          datasetName: '',
          idempotencyKey: '',
        }),
      ),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
  });

  it('answers a repeated Idempotency-Key with the first upload, and 422 for other bytes', async () => {
    const first = await asTenant(tenant, () =>
      uploads.receive(tenant, header('csv', 'k-1'), bytesOf(CSV), never),
    );
    const again = await asTenant(tenant, () =>
      uploads.receive(tenant, header('csv', 'k-1'), bytesOf(CSV), never),
    );
    expect(again).toEqual({ upload: first.upload, replayed: true });
    await expect(
      asTenant(tenant, () =>
        uploads.receive(tenant, header('csv', 'k-1'), bytesOf('x\n1\n'), never),
      ),
    ).rejects.toMatchObject({ code: 'validation.idempotency_key_reused' });
    // Another tenant's same key is its own.
    const theirs = await asTenant(other, () =>
      uploads.receive(other, header('csv', 'k-1'), bytesOf('x\n1\n'), never),
    );
    expect(theirs.replayed).toBe(false);
  });

  it('fails a job reading a "Parquet" upload that is none, naming the source', async () => {
    const { upload } = await asTenant(tenant, () =>
      uploads.receive(tenant, header('parquet'), bytesOf('PAR1 but not really'), never),
    );
    const { job } = await profileUpload(core, tenant, upload.id);
    await expect(
      asTenant(tenant, () => core.stages.run('ingest', job, {}, never)),
    ).rejects.toMatchObject({
      code: 'validation.unprocessable',
      details: [{ field: 'source.upload_id', reason: 'invalid' }],
    });
  });

  it('tells the format of an upload sent without one from its bytes', async () => {
    const receive = (body: string) =>
      asTenant(tenant, () => uploads.receive(tenant, header(''), bytesOf(body), never));
    expect((await receive('  {"a":1}\n{"a":2}\n')).upload.format).toBe('jsonl');
    expect((await receive('a;b\n1;2\n')).upload.format).toBe('csv');
    expect((await receive('PAR1 then not parquet at all')).upload.format).toBe('csv');
  });

  it('refuses too large, empty and unknown formats, leaving nothing behind', async () => {
    const receive = (format: string, ...parts: string[]) =>
      asTenant(tenant, () => uploads.receive(tenant, header(format), bytesOf(...parts), never));
    await expect(receive('csv', 'a'.repeat(600), 'b'.repeat(600))).rejects.toMatchObject({
      code: 'validation.payload_too_large',
    });
    await expect(receive('csv')).rejects.toMatchObject({ code: 'validation.invalid_argument' });
    await expect(receive('xlsx', 'a')).rejects.toMatchObject({
      code: 'validation.invalid_argument',
    });
    expect(await readdir(path.join(dirs.work, 'uploads', tenant))).toEqual([]);
    const [row] = await db.queryAsOwner<{ n: string }>(
      `select count(*) as n from dpl_uploads where tenant_id = $1 and bytes > 1000`,
      [tenant],
    );
    expect(Number(row!.n)).toBe(0);
  });
});

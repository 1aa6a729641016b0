// Uploads listed, read and deleted, and swept once expired, on real PostgreSQL with the bytes in
// both object stores uploads use (a directory, and S3 on a real SeaweedFS): per tenant (another
// tenant's id is not found), refused while a pending or running job names the upload, each
// deletion announced once through the outbox, two sweepers at once never deleting one twice.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { openPostgres } from '@aion/db';
import { OutboxWriter, decodeEnvelope, payloadOf, type EventType } from '@aion/events';
import { uniqueName, type TestDatabase } from '@aion/testing';
import { UploadConnector } from '../../src/adapters/connectors/upload-connector';
import { PostgresUploadStore } from '../../src/adapters/db/upload-store';
import { outbox } from '../../src/adapters/db/schema';
import { FsObjectStore } from '../../src/adapters/storage/fs-object-store';
import { S3ObjectStore } from '../../src/adapters/storage/s3-object-store';
import type { ObjectStore } from '../../src/core/ports';
import { UploadService, type Upload } from '../../src/core/uploads';
import { asTenant, migratedDatabase, pipelineCore, scratch, profileUpload } from './harness';
import { startSeaweedFs, type SeaweedFs } from './seaweedfs';

const DAY_MS = 86_400_000;
const never = new AbortController().signal;
let db: TestDatabase;
let dirs: Awaited<ReturnType<typeof scratch>>;
let weed: SeaweedFs;
const pools: ReturnType<typeof openPostgres>[] = [];
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  [db, dirs, weed] = await Promise.all([migratedDatabase('dplret'), scratch(), startSeaweedFs()]);
}, 1_900_000);

afterAll(async () => {
  for (const close of closers) await close();
  for (const pool of pools) await pool.close();
  await weed?.stop();
  await db?.drop();
  await dirs?.remove();
});

/** An upload service on its own connection pool (as one replica has). */
function replica(objects: ObjectStore) {
  const database = openPostgres({ url: db.appUrl, max: 2 });
  pools.push(database);
  return new UploadService(
    new PostgresUploadStore(database.db, new OutboxWriter(outbox, 'aion/data-pipeline')),
    objects,
    { maxBytes: 10_000, workDir: dirs.work, retentionMs: 7 * DAY_MS },
  );
}

async function* bytesOf(text: string) {
  yield Buffer.from(text);
}

/** The upload's events in outbox order: type, tenant and reason. */
async function uploadEvents(id: string) {
  const rows = await db.queryAsOwner<{ event_type: string; value: Buffer }>(
    'select event_type, value from dpl_outbox where key = $1 order by seq',
    [id],
  );
  return rows.map((r) => {
    const env = decodeEnvelope(new Uint8Array(r.value));
    const payload = payloadOf(env, r.event_type as EventType) as unknown as {
      upload?: { id: string };
      reason?: string;
    };
    return {
      type: r.event_type,
      tenantId: env.tenantId,
      upload: payload.upload?.id,
      reason: payload.reason ?? '',
    };
  });
}

const expireNow = (id: string) =>
  db.queryAsOwner(`update dpl_uploads set expires_at = now() - interval '1 minute' where id = $1`, [
    id,
  ]);
const rowCount = async (id: string) =>
  Number(
    (
      await db.queryAsOwner<{ n: string }>('select count(*) as n from dpl_uploads where id = $1', [
        id,
      ])
    )[0]!.n,
  );

describe.each([
  ['a directory', () => new FsObjectStore(path.join(dirs.storage, 'fs'))],
  [
    'S3 (SeaweedFS)',
    () => {
      const s3 = new S3ObjectStore({
        endpoint: weed.endpoint,
        region: 'us-east-1',
        bucket: weed.bucket,
        prefix: `retention-${randomUUID()}`,
        forcePathStyle: true,
        accessKeyId: weed.accessKeyId,
        secretAccessKey: weed.secretAccessKey,
      });
      closers.push(() => s3.close());
      return s3;
    },
  ],
])('uploads with their bytes in %s', (_name, makeStore) => {
  const tenant = uniqueName('ret');
  const other = uniqueName('ret-other');
  let objects: ObjectStore;
  let uploads: UploadService;
  let core: ReturnType<typeof pipelineCore>;

  const receive = (tenantId: string, text: string, format = 'csv') =>
    asTenant(tenantId, () =>
      uploads.receive(
        tenantId,
        { format, fileName: `${format}-file`, idempotencyKey: '' },
        bytesOf(text),
        never,
      ),
    ).then((r) => r.upload);
  const submitJob = (upload: Upload) =>
    profileUpload(core, upload.tenantId, upload.id).then((r) => r.job);

  beforeAll(() => {
    objects = makeStore();
    uploads = replica(objects);
    core = pipelineCore(db, dirs, [
      new UploadConnector(uploads, path.join(dirs.work, 'downloads')),
    ]);
    closers.push(() => core.close());
  });

  it('lists the tenant’s uploads newest first, a page at a time, by format; never another tenant’s', async () => {
    const a = await receive(tenant, 'a\n1\n');
    const b = await receive(tenant, '{"a":1}\n', 'jsonl');
    const c = await receive(tenant, 'c\n3\n');
    await receive(other, 'theirs\n1\n');
    const first = await asTenant(tenant, () => uploads.list({ offset: 0, limit: 2 }, {}));
    expect(first.total).toBe(3);
    expect(first.items.map((u) => u.id)).toEqual([c.id, b.id]);
    const second = await asTenant(tenant, () => uploads.list({ offset: 2, limit: 2 }, {}));
    expect(second.items.map((u) => u.id)).toEqual([a.id]);
    const csv = await asTenant(tenant, () =>
      uploads.list({ offset: 0, limit: 10 }, { format: 'csv' }),
    );
    expect(csv.items.map((u) => u.id)).toEqual([c.id, a.id]);
    expect(csv.items.every((u) => u.tenantId === tenant)).toBe(true);
    // Made with its expiry (retention 7 days) and announced.
    expect(a.expiresAt.getTime() - a.createdAt.getTime()).toBe(7 * DAY_MS);
    expect(await uploadEvents(a.id)).toEqual([
      { type: 'pipeline.upload.created', tenantId: tenant, upload: a.id, reason: '' },
    ]);
  });

  it('reads one with the jobs that named it; another tenant’s id is not found (404) and stays', async () => {
    const upload = await receive(tenant, 'id\n1\n2\n');
    const job = await submitJob(upload);
    const described = await asTenant(tenant, () => uploads.describe(upload.id));
    expect(described.upload).toMatchObject({ id: upload.id, bytes: 7, format: 'csv' });
    expect(described.jobs).toEqual([
      { id: job.id, status: 'pending', createdAt: expect.any(Date) },
    ]);
    await expect(asTenant(other, () => uploads.describe(upload.id))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(asTenant(other, () => uploads.delete(upload.id))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    expect(await rowCount(upload.id)).toBe(1);
    expect(await objects.exists(upload.objectKey)).toBe(true);
    await asTenant(tenant, () => core.jobs.cancel(job.id, 'test done'));
  });

  it('refuses deleting while a pending or running job names it (409), then deletes bytes and row once, announced', async () => {
    const upload = await receive(tenant, 'id\n1\n');
    const job = await submitJob(upload);
    const refused = asTenant(tenant, () => uploads.delete(upload.id));
    await expect(refused).rejects.toMatchObject({
      code: 'state.upload_in_use',
      details: [{ field: 'jobs', reason: 'in_use', message: `job ${job.id} is pending` }],
    });
    await db.queryAsOwner(`update dpl_jobs set status = 'running' where id = $1`, [job.id]);
    await expect(asTenant(tenant, () => uploads.delete(upload.id))).rejects.toMatchObject({
      code: 'state.upload_in_use',
    });
    expect(await objects.exists(upload.objectKey)).toBe(true);
    await db.queryAsOwner(`update dpl_jobs set status = 'succeeded' where id = $1`, [job.id]);

    const deleted = await asTenant(tenant, () => uploads.delete(upload.id));
    expect(deleted.id).toBe(upload.id);
    expect(await objects.exists(upload.objectKey)).toBe(false);
    expect(await rowCount(upload.id)).toBe(0);
    await expect(asTenant(tenant, () => uploads.delete(upload.id))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    expect(await uploadEvents(upload.id)).toEqual([
      { type: 'pipeline.upload.created', tenantId: tenant, upload: upload.id, reason: '' },
      { type: 'pipeline.upload.deleted', tenantId: tenant, upload: upload.id, reason: 'deleted' },
    ]);
    // A job naming it now is refused when submitted.
    await expect(submitJob(upload)).rejects.toMatchObject({ code: 'resource.not_found' });
  });

  it('makes a job submitted while its upload is being deleted wait, then refuses it (404)', async () => {
    const upload = await receive(tenant, 'id\n1\n');
    const database = openPostgres({ url: db.appUrl, max: 2 });
    pools.push(database);
    const store = new PostgresUploadStore(
      database.db,
      new OutboxWriter(outbox, 'aion/data-pipeline'),
    );
    let locked!: () => void;
    let finish!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const gate = new Promise<void>((resolve) => (finish = resolve));
    // A deletion that holds the upload's row until the gate opens.
    const deleting = asTenant(tenant, () =>
      store.delete(upload.id, async () => {
        locked();
        await gate;
      }),
    );
    await isLocked;
    let settled = false;
    const submitted = submitJob(upload).finally(() => {
      settled = true;
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
    } finally {
      finish();
    }
    expect(await deleting).toMatchObject({ id: upload.id });
    await expect(submitted).rejects.toMatchObject({ code: 'resource.not_found' });
  });

  it('deletes one upload once when two requests delete it at the same time', async () => {
    const upload = await receive(tenant, 'id\n1\n');
    const second = replica(objects);
    const results = await Promise.allSettled([
      asTenant(tenant, () => uploads.delete(upload.id)),
      asTenant(tenant, () => second.delete(upload.id)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({
      reason: { code: 'resource.not_found' },
    });
    expect((await uploadEvents(upload.id)).map((e) => e.reason)).toEqual(['', 'deleted']);
  });

  it('sweeps expired uploads no active job needs, keeps the others, and refuses an expired one to new jobs', async () => {
    const expired = await receive(tenant, 'old\n1\n');
    const needed = await receive(other, 'needed\n1\n');
    const fresh = await receive(tenant, 'fresh\n1\n');
    const job = await submitJob(needed);
    await expireNow(expired.id);
    await expireNow(needed.id);
    // Expired, not swept yet: no source for a new job; the queued one still reads it.
    await expect(submitJob(expired)).rejects.toMatchObject({ code: 'resource.not_found' });

    const round = await uploads.sweep(100);
    expect(round.failed).toEqual([]);
    expect(round.deleted.map((u) => u.id)).toContain(expired.id);
    expect(round.deleted.map((u) => u.id)).not.toContain(needed.id);
    expect(await objects.exists(expired.objectKey)).toBe(false);
    expect(await rowCount(expired.id)).toBe(0);
    expect(await uploadEvents(expired.id)).toContainEqual({
      type: 'pipeline.upload.deleted',
      tenantId: tenant,
      upload: expired.id,
      reason: 'expired',
    });
    expect(await objects.exists(needed.objectKey)).toBe(true);
    expect(await rowCount(fresh.id)).toBe(1);

    // Once its job finished, the next round takes it.
    await asTenant(other, () => core.jobs.cancel(job.id, 'done'));
    const next = await uploads.sweep(100);
    expect(next.deleted.map((u) => u.id)).toContain(needed.id);
    expect(await objects.exists(needed.objectKey)).toBe(false);
    expect((await uploadEvents(needed.id)).at(-1)).toMatchObject({
      reason: 'expired',
      tenantId: other,
    });
  });

  it('two sweepers at once delete every expired upload exactly once', async () => {
    const made = await Promise.all(
      Array.from({ length: 8 }, (_, i) => receive(i % 2 ? tenant : other, `n\n${i}\n`)),
    );
    for (const u of made) await expireNow(u.id);
    const sweepers = [replica(objects), replica(objects)];
    const rounds = await Promise.all(sweepers.map((s) => s.sweep(100)));
    const ids = rounds.flatMap((r) => r.deleted.map((u) => u.id));
    expect(rounds.flatMap((r) => r.failed)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(made.map((u) => u.id).sort());
    for (const u of made) {
      expect(await objects.exists(u.objectKey)).toBe(false);
      expect((await uploadEvents(u.id)).filter((e) => e.reason === 'expired')).toHaveLength(1);
    }
  });
});

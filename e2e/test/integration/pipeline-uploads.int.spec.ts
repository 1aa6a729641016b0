import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { decodeEnvelope, payloadOf } from '@aion/events';
import {
  eventually,
  httpCall,
  testIdentityProvider,
  uniqueName,
  type TestDatabase,
} from '@aion/testing';
import { startPipelineStack, type PipelineStack } from './fixtures/pipeline-stack';

// Uploads listed, read, deleted and expired through the gateway's REST API
// (/api/v1/pipeline/uploads): the gateway and the data-pipeline service as separate processes on
// real PostgreSQL and Kafka, uploads kept RETENTION, swept every half second.

const BOOTSTRAP = 'e2e-uploads-bootstrap-key-0123456789';
const RETENTION_MS = 10_000;
const idp = testIdentityProvider();
const tenant = uniqueName('dpl-up');
let stack: PipelineStack;
let db: TestDatabase;
let dir: string;
let gateway: string;

const JOBS = '/api/v1/pipeline/jobs';
const UPLOADS = '/api/v1/pipeline/uploads';
const call = (method: string, url: string, key: string | Promise<string>, body?: unknown) =>
  Promise.resolve(key).then((k) =>
    httpCall(gateway, method, url, { key: k, ...(body === undefined ? {} : { body }) }),
  );
const as = (tenantId: string, role: string) =>
  idp.sign({ subject: `${role}-of-${tenantId}`, tenantId, roles: [role], expiresIn: '30m' });

async function upload(text: string, key: string | Promise<string> = BOOTSTRAP, format = 'csv') {
  const res = await fetch(`${gateway}${UPLOADS}?filename=${format}-file`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await key}`,
      'content-type': format === 'csv' ? 'text/csv' : 'application/x-ndjson',
    },
    body: text,
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { upload_id: string; created_at: string; expires_at: string };
}

/** The upload's deletion events in the outbox: their reasons. */
async function deletions(id: string) {
  const rows = await db.queryAsOwner<{ event_type: string; value: Buffer }>(
    "select event_type, value from dpl_outbox where key = $1 and event_type = 'pipeline.upload.deleted' order by seq",
    [id],
  );
  return rows.map(
    (r) => payloadOf(decodeEnvelope(new Uint8Array(r.value)), 'pipeline.upload.deleted').reason,
  );
}

beforeAll(async () => {
  stack = await startPipelineStack({
    label: 'e2edplup',
    bootstrapKey: BOOTSTRAP,
    tenant,
    pipelineEnv: {
      AION_PIPELINE_UPLOAD_RETENTION: `${RETENTION_MS / 1000}s`,
      AION_PIPELINE_UPLOAD_SWEEP_INTERVAL_MS: '500',
    },
    gatewayEnv: idp.gatewayEnv,
  });
  ({ db, dir, gateway } = stack);
}, 120_000);

afterAll(() => stack?.stop());

describe('uploads through the gateway', () => {
  it('lists them a page at a time and by format; reads one with the jobs that named it', async () => {
    const a = await upload('id\n1\n');
    const b = await upload('{"id":1}\n', BOOTSTRAP, 'jsonl');
    const c = await upload('id\n3\n');
    expect(Date.parse(a.expires_at) - Date.parse(a.created_at)).toBe(RETENTION_MS);

    const first = await call('GET', `${UPLOADS}?limit=2`, BOOTSTRAP);
    expect(first.status).toBe(200);
    expect(first.json['total']).toBeGreaterThanOrEqual(3);
    const ids = (first.json['data'] as { upload_id: string }[]).map((u) => u.upload_id);
    expect(ids).toEqual([c.upload_id, b.upload_id]);
    const rest = await call(
      'GET',
      `${UPLOADS}?limit=2&page_token=${first.json['next_page_token'] as string}`,
      BOOTSTRAP,
    );
    expect((rest.json['data'] as { upload_id: string }[])[0]!.upload_id).toBe(a.upload_id);
    const jsonl = await call('GET', `${UPLOADS}?format=jsonl`, BOOTSTRAP);
    expect(jsonl.json['data']).toEqual([expect.objectContaining({ upload_id: b.upload_id })]);

    const job = await call('POST', JOBS, BOOTSTRAP, {
      type: 'profile',
      source: { type: 'upload', upload_id: a.upload_id },
    });
    expect(job.status).toBe(202);
    const one = await call('GET', `${UPLOADS}/${a.upload_id}`, as(tenant, 'observer'));
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({
      upload_id: a.upload_id,
      format: 'csv',
      file_name: 'csv-file',
      bytes: 5,
      expires_at: a.expires_at,
      jobs: [{ id: job.json['id'], status: expect.any(String) }],
    });
  });

  it('answers 400 for a bad id or format, 404 for an unknown one, 403 deleting as an observer', async () => {
    expect((await call('GET', `${UPLOADS}/not-a-uuid`, BOOTSTRAP)).status).toBe(400);
    expect((await call('DELETE', `${UPLOADS}/not-a-uuid`, BOOTSTRAP)).status).toBe(400);
    const badFormat = await call('GET', `${UPLOADS}?format=xlsx`, BOOTSTRAP);
    expect(badFormat).toMatchObject({ status: 400, json: { error_code: expect.any(String) } });
    const unknown = await call('GET', `${UPLOADS}/00000000-0000-4000-8000-000000000000`, BOOTSTRAP);
    expect(unknown).toMatchObject({ status: 404, json: { error_code: 'resource.not_found' } });
    const made = await upload('id\n1\n');
    const denied = await call('DELETE', `${UPLOADS}/${made.upload_id}`, as(tenant, 'observer'));
    expect(denied.status).toBe(403);
  });

  it('never shows or deletes another tenant’s upload (404), and deletes once (204, then 404)', async () => {
    const made = await upload('id\n1\n');
    const stranger = as(uniqueName('dpl-up-other'), 'developer');
    const theirs = await call('GET', UPLOADS, stranger);
    expect(theirs.json).toMatchObject({ data: [], total: 0 });
    expect(await call('GET', `${UPLOADS}/${made.upload_id}`, stranger)).toMatchObject({
      status: 404,
      json: { error_code: 'resource.not_found' },
    });
    expect((await call('DELETE', `${UPLOADS}/${made.upload_id}`, stranger)).status).toBe(404);

    const deleted = await call('DELETE', `${UPLOADS}/${made.upload_id}`, as(tenant, 'developer'));
    expect(deleted.status).toBe(204);
    expect((await call('DELETE', `${UPLOADS}/${made.upload_id}`, BOOTSTRAP)).status).toBe(404);
    expect((await call('GET', `${UPLOADS}/${made.upload_id}`, BOOTSTRAP)).status).toBe(404);
    expect(await deletions(made.upload_id)).toEqual(['deleted']);
    // The bytes went with it.
    const kept = await readdir(path.join(dir, 'store', 'uploads', tenant));
    expect(kept).not.toContain(made.upload_id);
  });

  it('refuses deleting an upload a pending job names (409), keeps it past expiry until the job ends, then sweeps it', async () => {
    const made = await upload('id\n1\n2\n');
    const job = await call('POST', JOBS, BOOTSTRAP, {
      type: 'profile',
      source: { type: 'upload', upload_id: made.upload_id },
    });
    const jobId = job.json['id'] as string;
    await eventually(async () => {
      const r = await call('GET', `${JOBS}/${jobId}`, BOOTSTRAP);
      return r.json['status'] === 'succeeded' ? r : undefined;
    }, 30_000);
    // Queued again for later (as a retry waiting for its backoff would be): it still needs the file.
    await db.queryAsOwner(
      `update dpl_jobs set status = 'pending', run_after = now() + interval '1 hour' where id = $1`,
      [jobId],
    );
    const refused = await call('DELETE', `${UPLOADS}/${made.upload_id}`, BOOTSTRAP);
    expect(refused).toMatchObject({
      status: 409,
      json: {
        error_code: 'state.upload_in_use',
        details: [{ field: 'jobs', reason: 'in_use', message: `job ${jobId} is pending` }],
        request_id: expect.any(String),
      },
    });
    // Past its expiry the sweep keeps it for the job; a new job may not name it any more.
    await new Promise((r) => setTimeout(r, Date.parse(made.expires_at) - Date.now() + 1500));
    expect((await call('GET', `${UPLOADS}/${made.upload_id}`, BOOTSTRAP)).status).toBe(200);
    const late = await call('POST', JOBS, BOOTSTRAP, {
      type: 'profile',
      source: { type: 'upload', upload_id: made.upload_id },
    });
    expect(late).toMatchObject({ status: 404, json: { error_code: 'resource.not_found' } });

    expect((await call('POST', `${JOBS}/${jobId}/cancel`, BOOTSTRAP, {})).status).toBe(200);
    await eventually(async () => {
      const r = await call('GET', `${UPLOADS}/${made.upload_id}`, BOOTSTRAP);
      return r.status === 404 ? r : undefined;
    }, 15_000);
    expect(await deletions(made.upload_id)).toEqual(['expired']);
  }, 60_000);
});

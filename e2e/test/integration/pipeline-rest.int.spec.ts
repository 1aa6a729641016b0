import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually, httpCall, testIdentityProvider, uniqueName } from '@aion/testing';
import { startPipelineStack, type PipelineStack } from './fixtures/pipeline-stack';

// Data-pipeline jobs through the gateway's REST API (/api/v1/pipeline): the gateway and the
// data-pipeline service as separate processes (as main.ts starts them) on real PostgreSQL and Kafka.

const BOOTSTRAP = 'e2e-pipeline-bootstrap-key-0123456789';
const idp = testIdentityProvider();
const tenant = uniqueName('dpl-rest');
let stack: PipelineStack;
let dir: string;
let gateway: string;

const JOBS = '/api/v1/pipeline/jobs';
const UPLOADS = '/api/v1/pipeline/uploads';
const UPLOAD_MAX = 1024 * 1024;
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
  stack = await startPipelineStack({
    label: 'e2edpl',
    bootstrapKey: BOOTSTRAP,
    tenant,
    prepare: (inbox) =>
      writeFile(
        path.join(inbox, 'sales.csv'),
        'id,email,amount\n1,a@example.com,10\n2,b@example.com,20\n3,c@example.com,\n',
      ),
    // Progress checkpointed and read often enough for a test to see it change.
    pipelineEnv: { AION_PIPELINE_PROGRESS_INTERVAL_MS: '100', AION_PIPELINE_WATCH_POLL_MS: '100' },
    gatewayEnv: { ...idp.gatewayEnv, AION_GATEWAY_PIPELINE_UPLOAD_MAX_BYTES: String(UPLOAD_MAX) },
  });
  ({ dir, gateway } = stack);
}, 120_000);

afterAll(() => stack?.stop());

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

describe('uploads as job sources', () => {
  const upload = (
    body: string | Uint8Array,
    contentType: string,
    key: string | Promise<string> = BOOTSTRAP,
    headers: Record<string, string> = {},
    query = '',
  ) =>
    Promise.resolve(key).then(async (credential) => {
      const res = await fetch(`${gateway}${UPLOADS}${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${credential}`, 'content-type': contentType, ...headers },
        body,
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    });
  const csv = 'id,city,amount\n1,Berlin,10.5\n2,Paris,20\n3,Rome,\n4,Oslo,7\n';
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  it('stores an upload (201, sha256, Idempotency-Key) that a profile job then reads', async () => {
    const created = await upload(
      csv,
      'text/csv; charset=utf-8',
      BOOTSTRAP,
      {
        'idempotency-key': 'upload-1',
      },
      '?filename=cities.csv',
    );
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      format: 'csv',
      file_name: 'cities.csv',
      bytes: Buffer.byteLength(csv),
      sha256: sha256(csv),
    });
    const id = created.json['upload_id'] as string;
    const again = await upload(csv, 'text/csv', BOOTSTRAP, { 'idempotency-key': 'upload-1' });
    expect(again).toMatchObject({ status: 201, json: { upload_id: id } });
    const reused = await upload('other\n1\n', 'text/csv', BOOTSTRAP, {
      'idempotency-key': 'upload-1',
    });
    expect(reused).toMatchObject({
      status: 422,
      json: { error_code: 'validation.idempotency_key_reused' },
    });

    const job = await call('POST', JOBS, BOOTSTRAP, {
      type: 'profile',
      source: { type: 'upload', upload_id: id },
      dataset: 'cities',
    });
    expect(job.status).toBe(202);
    const done = await eventually(async () => {
      const r = await call('GET', `${JOBS}/${job.json['id'] as string}`, BOOTSTRAP);
      return ['succeeded', 'failed'].includes(r.json['status'] as string) ? r : undefined;
    }, 30_000);
    expect(done.json).toMatchObject({ status: 'succeeded', rows_processed: 4 });
    const profile = await call('GET', `${JOBS}/${job.json['id'] as string}/profile`, BOOTSTRAP);
    expect(profile.json).toMatchObject({ row_count: 4 });
    const amount = (profile.json['columns'] as { name: string }[]).find((c) => c.name === 'amount');
    expect(amount).toMatchObject({ null_count: 1, max: 20 });
  });

  it('sniffs an octet-stream and streams a file larger than one gRPC chunk', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ n: i, s: `v${i}` }));
    const body = `${lines.join('\n')}\n`;
    expect(Buffer.byteLength(body)).toBeGreaterThan(256 * 1024);
    const created = await upload(body, 'application/octet-stream');
    expect(created).toMatchObject({
      status: 201,
      json: { format: 'jsonl', bytes: Buffer.byteLength(body), sha256: sha256(body) },
    });
  });

  it('refuses an empty body (400), a wrong content type (415), a too large file (413)', async () => {
    const empty = await upload('', 'text/csv');
    expect(empty).toMatchObject({
      status: 400,
      json: { error_code: 'validation.invalid_argument' },
    });
    const wrong = await upload('{"a":1}', 'application/json');
    expect(wrong).toMatchObject({
      status: 415,
      json: { error_code: 'validation.unsupported_media_type' },
    });
    expect(wrong.json['request_id']).toEqual(expect.any(String));
    const large = await upload('x'.repeat(UPLOAD_MAX + 1), 'text/csv');
    expect(large).toMatchObject({
      status: 413,
      json: { error_code: 'validation.payload_too_large' },
    });
    // Without a Content-Length the limit holds while the body streams.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(UPLOAD_MAX / 4).fill(65));
        controller.close();
      },
    });
    const streamed = await fetch(`${gateway}${UPLOADS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'text/csv' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ error_code: 'validation.payload_too_large' });
    const denied = await upload(csv, 'text/csv', observer());
    expect(denied.status).toBe(403);
  });

  it('does not let another tenant name an upload (404), nor a bad id reach the service', async () => {
    const created = await upload(csv, 'text/csv');
    const other = idp.sign({
      subject: 'someone-else',
      tenantId: uniqueName('dpl-other'),
      roles: ['developer'],
      expiresIn: '30m',
    });
    const job = await call('POST', JOBS, await other, {
      type: 'profile',
      source: { type: 'upload', upload_id: created.json['upload_id'] },
    });
    expect(job).toMatchObject({ status: 404, json: { error_code: 'resource.not_found' } });
    const badId = await call('POST', JOBS, BOOTSTRAP, {
      type: 'profile',
      source: { type: 'upload', upload_id: 'x' },
    });
    expect(badId.status).toBe(400);
  });
});

describe('clean: date and number normalisation', () => {
  const sendCsv = async (text: string) => {
    const res = await fetch(`${gateway}${UPLOADS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'text/csv' },
      body: text,
    });
    return ((await res.json()) as { upload_id: string }).upload_id;
  };
  const run = async (uploadId: string, normalize: unknown[]) => {
    const job = await call('POST', JOBS, BOOTSTRAP, {
      type: 'clean',
      source: { type: 'upload', upload_id: uploadId, delimiter: ';' },
      dataset: 'invoices',
      spec: { clean: { normalize, dedupe: false } },
    });
    expect(job.status).toBe(202);
    return eventually(async () => {
      const r = await call('GET', `${JOBS}/${job.json['id'] as string}`, BOOTSTRAP);
      return ['succeeded', 'failed'].includes(r.json['status'] as string) ? r.json : undefined;
    }, 30_000);
  };
  const normalize = [
    { column: 'day', date: { formats: ['%d.%m.%Y'] } },
    { column: 'total', number: { decimal: ',', thousands: '.' } },
  ];

  it('parses German dates and numbers and versions the result', async () => {
    const id = await sendCsv('no;day;total\n1;31.12.2024;1.234,50\n2;01.02.2025;7,25\n');
    const job = await run(id, normalize);
    expect(job).toMatchObject({ status: 'succeeded', rows_processed: 2 });
    expect(job['data_version']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fails the job naming the row and column of a value that does not parse', async () => {
    const id = await sendCsv('no;day;total\n1;31.12.2024;1.234,50\n2;31.02.2025;7,25\n');
    const job = await run(id, normalize);
    expect(job).toMatchObject({
      status: 'failed',
      error: {
        code: 'validation.unprocessable',
        details: [{ field: 'spec.clean.normalize[0]', reason: 'unparsable' }],
      },
    });
    expect((job['error'] as { message: string }).message).toContain(
      'row 2 of column "day" is "31.02.2025"',
    );
    const refused = await call('POST', JOBS, BOOTSTRAP, {
      type: 'clean',
      source: { type: 'upload', upload_id: id },
      spec: { clean: { normalize: [{ column: 'day', date: { formats: ['day/month'] } }] } },
    });
    expect(refused.status).toBe(400);
  });
});

describe('job progress over server-sent events', () => {
  /** Reads an SSE response to its end: each event's id, name and JSON data. */
  async function readEvents(res: Response) {
    const events: { id?: number; event: string; data: Record<string, unknown> }[] = [];
    const text = await res.text();
    for (const block of text.split('\n\n')) {
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => l && !l.startsWith(':'))
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      );
      if (!fields['data']) continue;
      events.push({
        ...(fields['id'] ? { id: Number(fields['id']) } : {}),
        event: fields['event'] ?? 'message',
        data: JSON.parse(fields['data']) as Record<string, unknown>,
      });
    }
    return events;
  }

  it('streams a running job: its stages and progress as the worker checkpoints it, then done', async () => {
    const rows = Array.from(
      { length: 300_000 },
      (_, i) => `${i},name-${i % 977},${(i * 7) % 1000}.5`,
    );
    await writeFile(path.join(dir, 'big.csv'), `id,name,amount\n${rows.join('\n')}\n`);
    const created = await call('POST', JOBS, BOOTSTRAP, {
      type: 'orchestrate',
      source: { type: 'file', path: 'big.csv' },
      spec: { clean: { dedupe: true } },
    });
    expect(created.status).toBe(202);
    const id = created.json['id'] as string;
    const res = await fetch(`${gateway}${JOBS}/${id}/events`, {
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
    });
    expect([res.status, res.status === 200 ? '' : await res.text()]).toEqual([200, '']);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(res);
    const last = events[events.length - 1]!;
    expect(last).toMatchObject({ event: 'done', data: { id, status: 'succeeded' } });
    expect(events.slice(0, -1).every((e) => e.event === 'progress')).toBe(true);
    // Sequences only grow; the stages show up in the order the job runs them.
    const ids = events.map((e) => e.id!);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const stages = [...new Set(events.map((e) => e.data['stage']).filter(Boolean))];
    expect(stages).toEqual(['ingest', 'profile', 'clean', 'version']);
    expect(last.data).toMatchObject({
      stages: ['ingest', 'profile', 'clean', 'version'],
      stage_percent: 100,
      rows_processed: 300_000,
    });
    for (const e of events) {
      const percent = e.data['stage_percent'];
      if (percent !== null) expect(percent).toBeGreaterThanOrEqual(0);
      if (percent !== null) expect(percent).toBeLessThanOrEqual(100);
    }
    expect(events.some((e) => e.data['status'] === 'running')).toBe(true);

    // A finished job: Last-Event-ID past its last change sends nothing more; from 0, just done.
    const again = await readEvents(
      await fetch(`${gateway}${JOBS}/${id}/events`, {
        headers: { authorization: `Bearer ${BOOTSTRAP}`, 'last-event-id': String(last.id) },
      }),
    );
    expect(again).toEqual([]);
    const replay = await readEvents(
      await fetch(`${gateway}${JOBS}/${id}/events`, {
        headers: { authorization: `Bearer ${BOOTSTRAP}` },
      }),
    );
    expect(replay).toEqual([last]);
    const read = await call('GET', `${JOBS}/${id}`, BOOTSTRAP);
    expect(read.json).toMatchObject({ stage: 'version', stage_percent: 100 });
  }, 90_000);

  it("answers 404 (JSON, before any event) for an unknown job and another tenant's", async () => {
    const unknown = await call('GET', `${JOBS}/${randomUUID()}/events`, BOOTSTRAP);
    expect(unknown).toMatchObject({ status: 404, json: { error_code: 'resource.not_found' } });
    const created = await call('POST', JOBS, BOOTSTRAP, {
      type: 'profile',
      source: { type: 'file', path: 'sales.csv' },
    });
    const other = await idp.sign({
      subject: 'someone-else',
      tenantId: uniqueName('dpl-other'),
      roles: ['developer'],
      expiresIn: '30m',
    });
    const theirs = await call('GET', `${JOBS}/${created.json['id'] as string}/events`, other);
    expect(theirs.status).toBe(404);
  });
});

describe('job progress over the WebSocket', () => {
  it('subscribe_job streams the same events as SSE, ending with done', async () => {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${gateway.replace('http', 'ws')}/v1/ws`, {
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
    });
    const messages: Record<string, unknown>[] = [];
    ws.on('message', (data) =>
      messages.push(JSON.parse(data.toString()) as Record<string, unknown>),
    );
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const created = await call('POST', JOBS, BOOTSTRAP, {
      type: 'clean',
      source: { type: 'file', path: 'sales.csv' },
    });
    const id = created.json['id'] as string;
    ws.send(JSON.stringify({ type: 'subscribe_job', job_id: id }));
    ws.send(JSON.stringify({ type: 'subscribe_job', job_id: randomUUID() }));
    await eventually(
      () => messages.some((m) => m['type'] === 'event' && m['event'] === 'done'),
      30_000,
    );
    ws.close();
    expect(messages).toContainEqual({ type: 'subscribed', job_id: id });
    const events = messages.filter((m) => m['type'] === 'event');
    expect(events.every((e) => e['job_id'] === id)).toBe(true);
    expect(events.at(-1)).toMatchObject({
      event: 'done',
      data: { id, status: 'succeeded', stages: ['ingest', 'clean', 'version'] },
    });
    expect(events.slice(0, -1).every((e) => e['event'] === 'progress')).toBe(true);
    // An unknown job is an error naming it, not a subscription.
    expect(messages.find((m) => m['type'] === 'error')).toMatchObject({
      error_code: 'resource.not_found',
    });
  });
});

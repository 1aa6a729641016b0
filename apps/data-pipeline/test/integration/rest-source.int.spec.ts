// The REST source connector against a local node:http server. The server is a stand-in for a
// third-party JSON API (none can be reached from here); the connector, the egress policy, the
// queue and the engine are the real ones.
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { uniqueName, type TestDatabase } from '@aion/testing';
import { RestConnector } from '../../src/adapters/connectors/rest-connector';
import { EgressPolicy } from '../../src/adapters/egress/egress-policy';
import type { SourceData } from '../../src/core/ports';
import { PipelineWorker } from '../../src/core/worker';
import { asTenant, migratedDatabase, pipelineCore, scratch } from './harness';

const ITEMS = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, name: `item-${i + 1}` }));
let failPage3 = 0; // how many more requests for page 3 of /broken answer 500
let seenAuth: (string | undefined)[] = [];
let base = '';
let other = '';

function api(req: http.IncomingMessage, res: http.ServerResponse) {
  const url = new URL(req.url!, base);
  const q = (k: string) => url.searchParams.get(k);
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(JSON.stringify(body));
  seenAuth.push(req.headers.authorization);
  switch (url.pathname) {
    case '/cursor': {
      const from = Number(q('cursor') ?? 0);
      const next = from + 3 < ITEMS.length ? String(from + 3) : null;
      return json(200, { data: { items: ITEMS.slice(from, from + 3) }, meta: { next } });
    }
    case '/page': {
      const page = Number(q('page'));
      const size = Number(q('per_page'));
      return json(200, ITEMS.slice((page - 1) * size, page * size));
    }
    case '/link': {
      const at = Number(q('at') ?? 0);
      const link: Record<string, string> =
        at + 2 < ITEMS.length ? { link: `<${other}/link?at=${at + 2}>; rel="next"` } : {};
      return json(200, { results: ITEMS.slice(at, at + 2) }, link);
    }
    case '/malformed':
      if (q('page') === '2') return res.writeHead(200).end('{"records": [{"id": 3}, ');
      return json(200, { records: [{ id: 1 }, { id: 2 }] });
    case '/slow':
      return; // never answers
    case '/flaky':
      return seenAuth.length === 1
        ? json(503, { error: 'busy' }, { 'retry-after': '0' })
        : json(200, [{ id: 1 }]);
    case '/redirect':
      return res.writeHead(302, { location: q('to')! }).end();
    case '/broken': {
      const page = Number(q('page'));
      if (page === 3 && failPage3 > 0) {
        failPage3--;
        return json(500, { error: 'down' });
      }
      return json(200, page <= 3 ? ITEMS.slice((page - 1) * 3, page * 3) : []);
    }
    default:
      return json(404, { error: 'no such path' });
  }
}

const servers: http.Server[] = [];
let db: TestDatabase;
let dirs: Awaited<ReturnType<typeof scratch>>;
let core: ReturnType<typeof pipelineCore>;
let egress: EgressPolicy;
const tenant = uniqueName('tenant');
const downloads = () => path.join(dirs.work, 'rest-downloads');
const connector = (limits = {}) =>
  new RestConnector({ api: { headers: { authorization: 'Bearer t0ken' } } }, egress, downloads(), {
    timeoutMs: 2_000,
    attempts: 3,
    retryBaseMs: 10,
    ...limits,
  });

beforeAll(async () => {
  const listen = async () => {
    const s = http.createServer(api);
    await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
    servers.push(s);
    return `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`;
  };
  base = await listen();
  other = await listen();
  // Loopback is refused unless named: both stand-in servers are allowed by address and port.
  egress = EgressPolicy.parse(`${new URL(base).host}, ${new URL(other).host}`);
  dirs = await scratch();
  db = await migratedDatabase('dplrest');
  core = pipelineCore(db, dirs, [connector()]);
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  await core?.close();
  await db?.drop();
  await dirs?.remove();
});
beforeEach(() => {
  seenAuth = [];
});

/** The records a source yields, read from its JSON-lines file (then released). */
async function recordsOf(source: Record<string, unknown>, c = connector()) {
  const data = (await c.open({ type: 'rest', ...source }, AbortSignal.timeout(20_000))) as Extract<
    SourceData,
    { kind: 'file' }
  >;
  const lines = (await readFile(data.path, 'utf8')).trim().split('\n');
  await data.release!();
  return lines.map((l) => JSON.parse(l) as { id: number });
}

describe('the REST source', () => {
  it('follows a cursor from the body, with credentials', async () => {
    const rows = await recordsOf({
      url: `${base}/cursor`,
      credentials: 'api',
      records: 'data.items',
      pagination: { style: 'cursor', cursor_param: 'cursor', cursor_path: 'meta.next' },
    });
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seenAuth).toEqual(['Bearer t0ken', 'Bearer t0ken', 'Bearer t0ken']);
  });

  it('counts page numbers until a short page', async () => {
    const rows = await recordsOf({
      url: `${base}/page`,
      pagination: { style: 'page', page_param: 'page', size_param: 'per_page', size: 3 },
    });
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seenAuth).toHaveLength(3);
  });

  it('follows Link rel="next", sending credentials to the source origin only', async () => {
    const rows = await recordsOf({
      url: `${base}/link`,
      credentials: 'api',
      records: 'results',
      pagination: { style: 'link' },
    });
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seenAuth).toEqual(['Bearer t0ken', undefined, undefined, undefined]);
  });

  it('retries a 503 and gives up on a page that does not answer in time', async () => {
    expect(await recordsOf({ url: `${base}/flaky` })).toEqual([{ id: 1 }]);
    const started = Date.now();
    await expect(
      recordsOf({ url: `${base}/slow` }, connector({ timeoutMs: 200, attempts: 2 })),
    ).rejects.toThrow(/page 1 \(.*\/slow\) failed 2 times: timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses malformed JSON naming the page, and a missing records field', async () => {
    const err = await recordsOf({
      url: `${base}/malformed`,
      records: 'records',
      pagination: { style: 'page' },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'validation.unprocessable',
      message: expect.stringMatching(/^page 2 \(.*page=2\) is not valid JSON/),
      details: [{ field: 'page 2', reason: 'malformed_json' }],
    });
    await expect(recordsOf({ url: `${base}/cursor`, records: 'data.rows' })).rejects.toMatchObject({
      details: [{ field: 'page 1, data.rows', reason: 'not_an_array' }],
    });
    expect(await readdir(downloads())).toEqual([]);
  });

  it('refuses a redirect to a forbidden address, and a source URL outside the allowlist', async () => {
    for (const to of [
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
      `http://127.0.0.1:1/`,
    ])
      await expect(
        recordsOf({ url: `${base}/redirect?to=${encodeURIComponent(to)}` }),
      ).rejects.toMatchObject({ details: [{ reason: 'egress_refused' }] });
    expect(() =>
      connector().check({ type: 'rest', url: 'http://localhost:65000/x' }),
    ).not.toThrow();
    await expect(recordsOf({ url: 'http://localhost:65000/x' })).rejects.toThrow(
      /a loopback address/,
    );
    expect(() => connector().check({ type: 'rest', url: 'http://10.0.0.1/x' })).toThrow(/private/);
    // fetch's blocked ports fail at once, not after retries.
    const x11 = new RestConnector({}, EgressPolicy.parse('127.0.0.1:6000'), downloads());
    await expect(recordsOf({ url: 'http://127.0.0.1:6000/x' }, x11)).rejects.toMatchObject({
      details: [{ reason: 'bad_port' }],
    });
    // A name nothing is configured under is not found (404), a name of the wrong type invalid.
    let unknown: unknown;
    try {
      connector().check({ type: 'rest', url: `${base}/x`, credentials: 'nope' });
    } catch (err) {
      unknown = err;
    }
    expect(unknown).toMatchObject({ code: 'resource.not_found' });
    expect(() => connector().check({ type: 'rest', url: `${base}/x`, credentials: 7 })).toThrow(
      /source.credentials/,
    );
  });
});

describe('a REST source failing mid-way', () => {
  it('leaves the job resumable: no staged output, no version, then all rows once it recovers', async () => {
    failPage3 = 3; // every attempt of page 3 in the first run
    const { job } = await asTenant(tenant, () =>
      core.jobs.submit({
        type: 'ingest',
        source: { type: 'rest', url: `${base}/broken`, pagination: { style: 'page' } },
        spec: {},
        dataContext: {},
        datasetName: '',
        idempotencyKey: '',
      }),
    );
    const worker = new PipelineWorker(core.store, core.stages, {
      owner: 'rest',
      leaseMs: 10_000,
      pollMs: 50,
      stageTimeoutMs: 30_000,
      retryBaseMs: 10,
      retryMaxMs: 20,
    });
    await worker.runOnce();
    const interrupted = await asTenant(tenant, () => core.jobs.get(job.id));
    expect(interrupted).toMatchObject({ status: 'pending', dataVersion: '', outputUri: '' });
    expect(interrupted.errorMessage).toMatch(/page 3 .* failed 3 times: HTTP 500/);
    expect(await readdir(downloads())).toEqual([]);
    expect(await readdir(path.join(dirs.storage, 'work', tenant, job.id)).catch(() => [])).toEqual(
      [],
    );
    await new Promise((ok) => setTimeout(ok, 50)); // the retry's backoff
    while (await worker.runOnce());
    const done = await asTenant(tenant, () => core.jobs.get(job.id));
    expect(done).toMatchObject({ status: 'succeeded', rowsProcessed: ITEMS.length });
    expect(done.dataVersion).not.toBe('');
  });
});

import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { uniqueName, type TestDatabase } from '@aion/testing';
import { startLokiStandIn, type LokiStandIn } from '../loki-stand-in';
import { migratedDatabase, startObservability } from './running-observability';

// LogQL through the observability service's gRPC API. Loki is an AGPL server and is not run
// here: the service talks to a stand-in that answers Loki's documented query_range API
// (X-Scope-OrgID multi-tenancy, 400 with a parse error, nanosecond streams).

let db: TestDatabase;
let loki: LokiStandIn;
let obs: Awaited<ReturnType<typeof startObservability>>;
const a = uniqueName('logs-a');
const b = uniqueName('logs-b');

beforeAll(async () => {
  loki = await startLokiStandIn();
  db = await migratedDatabase('obslogs');
  obs = await startObservability(db, { AION_OBSERVABILITY_LOKI_URL: loki.url });
  const now = Date.now();
  loki.push(
    a,
    { service: 'gateway', level: 'error' },
    'A: upstream timed out',
    new Date(now - 2000),
  );
  loki.push(a, { service: 'gateway', level: 'info' }, 'A: request served', new Date(now - 1000));
  loki.push(b, { service: 'gateway', level: 'error', tenant_id: b }, 'B: secret line');
}, 60_000);

afterAll(async () => {
  await obs?.stop();
  await loki?.close();
  await db?.drop();
});

const query = (tenant: string, q: string, over: Record<string, unknown> = {}) =>
  obs.as(tenant, 'observer', (c) => c.queryLogs({ query: q, ...over }));

describe('log queries', () => {
  it("answers the tenant's lines, newest first, asking Loki as that tenant only", async () => {
    const { entries } = await query(a, '{service="gateway"}');
    expect(entries.map((e) => [e.level, e.message])).toEqual([
      ['info', 'A: request served'],
      ['error', 'A: upstream timed out'],
    ]);
    expect(loki.orgIds.at(-1)).toBe(a);
  });

  it("cannot read another tenant's lines whatever the query names", async () => {
    expect((await query(a, `{tenant_id="${b}"}`)).entries).toEqual([]);
    expect((await query(a, '{service=~".+"}')).entries.map((e) => e.message)).not.toContain(
      'B: secret line',
    );
    expect(new Set(loki.orgIds)).toEqual(new Set([a]));
  });

  it("passes Loki's parse error on as the caller's 400, and checks the rest itself", async () => {
    await expect(query(a, 'sum(rate(')).rejects.toMatchObject({
      code: 'validation.invalid_argument',
      message: expect.stringContaining('Loki refused the query: parse error'),
    });
    const err = await query(a, '', {
      start: timestampFromDate(new Date(10_000)),
      end: timestampFromDate(new Date(0)),
      limit: 9999,
    }).catch((e: unknown) => e);
    expect((err as { details: { field: string }[] }).details.map((d) => d.field)).toEqual([
      'query',
      'end',
      'limit',
    ]);
  });

  it('answers service.unavailable when Loki is down', async () => {
    await loki.close();
    await expect(query(a, '{service="gateway"}')).rejects.toMatchObject({
      code: 'service.unavailable',
    });
  });
});

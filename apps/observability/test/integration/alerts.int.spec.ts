import { decodeEnvelope, payloadOf } from '@aion/events';
import {
  eventually,
  freePort,
  startAlertmanager,
  uniqueName,
  type RunningAlertmanager,
  type TestDatabase,
} from '@aion/testing';
import { migratedDatabase, startObservability } from './running-observability';

// Alert state from a real Alertmanager (Debian's prometheus-alertmanager): its webhook reports
// firing and resolved alerts to the observability service, which publishes alert.fired and
// alert.resolved through the outbox (real PostgreSQL and Kafka); GET /alerts/active reads
// Alertmanager's API. The alerts are posted to Alertmanager as Prometheus's notifier posts them
// (Prometheus evaluating the rules is covered by the promtool tests).

const TOKEN = 'alertmanager-webhook-token-0123456789abcdef';
let db: TestDatabase;
let obs: Awaited<ReturnType<typeof startObservability>>;
let am: RunningAlertmanager;
let webhook: string;
const tenantA = uniqueName('alerts-a');
const tenantB = uniqueName('alerts-b');

beforeAll(async () => {
  db = await migratedDatabase('obsalerts');
  const [amPort, obsPort] = await Promise.all([freePort(), freePort()]);
  obs = await startObservability(db, {
    AION_OBSERVABILITY_HTTP_PORT: String(obsPort),
    AION_OBSERVABILITY_ALERTMANAGER_URL: `http://127.0.0.1:${amPort}`,
    AION_OBSERVABILITY_UPSTREAM_TIMEOUT_MS: '2000',
    AION_OBSERVABILITY_WEBHOOK_TOKEN: TOKEN,
  });
  webhook = `http://127.0.0.1:${obsPort}/v1/alertmanager/webhook`;
  am = await startAlertmanager({ port: amPort, webhookUrl: webhook, token: TOKEN });
}, 60_000);

afterAll(async () => {
  await am?.stop();
  await obs?.stop();
  await db?.drop();
});

const page = (tenantId: string, sloId: string) => ({
  alertname: 'AionSloErrorBudgetBurn',
  tenant_id: tenantId,
  aion_slo_id: sloId,
  aion_slo: 'gateway-availability',
  service: 'gateway',
  severity: 'page',
  long_window: '1h',
  short_window: '5m',
  burn_rate: '14.4',
});

/** A tenant's alert events, once the outbox relay has published them to Kafka. */
const alertEvents = (tenantId: string, count: number) =>
  eventually(async () => {
    const rows = await db.queryAsOwner<{ value: Buffer; published_at: Date | null }>(
      `select value, published_at from obs_outbox where tenant_id = $1 and event_type like 'alert.%' order by seq`,
      [tenantId],
    );
    if (rows.length < count || rows.some((r) => !r.published_at)) return undefined;
    return rows.map((r) => decodeEnvelope(r.value));
  }, 20_000);

const callWebhook = (body: unknown, token?: string) =>
  fetch(webhook, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });

describe('alerts from Alertmanager', () => {
  it('publishes alert.fired per tenant when Alertmanager fires, lists it as active for that tenant only, and alert.resolved when it resolves', async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    await am.post([
      { labels: page(tenantA, 'slo-a'), annotations: { summary: 'A burns' }, startsAt },
      { labels: page(tenantB, 'slo-b'), annotations: { summary: 'B burns' }, startsAt },
      // A platform alert: no tenant's, published to nobody.
      { labels: { alertname: 'AionPlatformDown', severity: 'page' }, startsAt },
    ]);

    const [fired] = await alertEvents(tenantA, 1);
    expect(fired!.type).toBe('alert.fired');
    expect(fired!.tenantId).toBe(tenantA);
    expect(fired!.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(payloadOf(fired!, 'alert.fired')).toMatchObject({
      sloId: 'slo-a',
      firing: true,
      burnRate: 14.4,
      summary: 'A burns',
      labels: expect.objectContaining({ severity: 'page', tenant_id: tenantA }),
    });
    expect((await alertEvents(tenantB, 1))[0]!.type).toBe('alert.fired');

    const activeA = await obs.as(tenantA, 'observer', (c) => c.listActiveAlerts({}));
    expect(activeA.alerts).toEqual([
      expect.objectContaining({
        alertname: 'AionSloErrorBudgetBurn',
        severity: 'page',
        sloId: 'slo-a',
        state: 'active',
      }),
    ]);
    const activeB = await obs.as(tenantB, 'observer', (c) => c.listActiveAlerts({}));
    expect(activeB.alerts.map((a) => a.sloId)).toEqual(['slo-b']);
    const [row] = await db.queryAsOwner<{ state: string; started_at: Date }>(
      'select state, started_at from obs_alerts where tenant_id = $1',
      [tenantA],
    );
    expect(row).toMatchObject({ state: 'firing', started_at: new Date(startsAt) });

    // Resolved: Prometheus sends the alert again with an end in the past.
    await am.post([
      {
        labels: page(tenantA, 'slo-a'),
        annotations: { summary: 'A burns' },
        startsAt,
        endsAt: new Date().toISOString(),
      },
    ]);
    const events = await alertEvents(tenantA, 2);
    expect(events.map((e) => e.type)).toEqual(['alert.fired', 'alert.resolved']);
    expect(events[1]!.correlationId).toBe(fired!.correlationId);
    expect(payloadOf(events[1]!, 'alert.resolved').firing).toBe(false);
    await eventually(async () => {
      const now = await obs.as(tenantA, 'observer', (c) => c.listActiveAlerts({}));
      return now.alerts.length === 0;
    });
    const [resolved] = await db.queryAsOwner<{ state: string; resolved_at: Date | null }>(
      'select state, resolved_at from obs_alerts where tenant_id = $1',
      [tenantA],
    );
    expect(resolved?.state).toBe('resolved');
    expect(resolved?.resolved_at).toBeInstanceOf(Date);
  }, 60_000);

  it('refuses a webhook call without the token or with another, and malformed bodies', async () => {
    const body = { version: '4', alerts: [] };
    expect((await callWebhook(body)).status).toBe(401);
    expect((await callWebhook(body, 'x'.repeat(43))).status).toBe(401);
    const bad = await callWebhook({ version: '3', alerts: [{ status: 'maybe' }] }, TOKEN);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error_code: string }).error_code).toBe(
      'validation.invalid_argument',
    );
    expect((await callWebhook(body, TOKEN)).status).toBe(200);
  });

  it('publishes a change of state once: a repeated notification changes nothing', async () => {
    const tenant = uniqueName('alerts-c');
    const alert = {
      status: 'firing',
      fingerprint: 'f00dfeed12345678',
      labels: page(tenant, 'slo-c'),
      annotations: {},
      startsAt: new Date().toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
    };
    const first = await callWebhook({ version: '4', alerts: [alert] }, TOKEN);
    expect(await first.json()).toEqual({ fired: 1, resolved: 0, unchanged: 0, unowned: 0 });
    const again = await callWebhook({ version: '4', alerts: [alert] }, TOKEN);
    expect(await again.json()).toEqual({ fired: 0, resolved: 0, unchanged: 1, unowned: 0 });
    const events = await alertEvents(tenant, 1);
    expect(events.map((e) => e.type)).toEqual(['alert.fired']);
  });

  it('answers service.unavailable when Alertmanager is down', async () => {
    await am.stop();
    await expect(obs.as(tenantA, 'observer', (c) => c.listActiveAlerts({}))).rejects.toMatchObject({
      code: 'service.unavailable',
    });
  });
});

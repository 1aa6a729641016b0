import {
  eventually,
  httpCall as call,
  startPlatform,
  testIdentityProvider,
  uniqueName,
  type Json,
  type Platform,
} from '@aion/testing';
import { LOCAL_SUMMARIZE_ENGINE, SUMMARY_SOURCE_TEXT } from '../support/fixtures';

// GET /api/v1/audit and /api/v1/usage through the gateway: what the services put on
// audit.activity and usage.billing, stored by the orchestrator, read back per tenant.

const BOOTSTRAP = 'e2e-audit-bootstrap-key-0123456789abcdef';
const idp = testIdentityProvider();
let platform: Platform;
let gateway: string;
let admin: string;

const newKey = async (role: string, issuer = admin) => {
  const created = await call(gateway, 'POST', '/api/v1/auth/keys', {
    key: issuer,
    body: { name: uniqueName(role), role },
  });
  if (created.status !== 201) throw new Error(`no key: ${created.status} ${created.text}`);
  return { key: created.json['key'] as string, id: created.json['id'] as string };
};
const records = (json: Json) => json['data'] as Json[];
/** A summarize task run to its end with `key`. */
const summarized = async (key: string) => {
  const done = await call(gateway, 'POST', '/v1/tasks', {
    key,
    headers: { prefer: 'wait=20' },
    body: {
      intent: 'summarize',
      params: { text: SUMMARY_SOURCE_TEXT, max_sentences: 2 },
      data_context: { jurisdiction: 'DE', classification: 'none' },
    },
  });
  expect(done.json).toMatchObject({ status: 'OK' });
};

beforeAll(async () => {
  platform = await startPlatform({
    database: 'e2eaudit',
    engines: `engines:\n${LOCAL_SUMMARIZE_ENGINE}\n`,
    modules: ['summarize_text'],
    gateways: [{ AION_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP, ...idp.gatewayEnv }],
  });
  gateway = `http://127.0.0.1:${platform.gateways[0]!.httpPort}`;
  admin = (await newKey('admin', BOOTSTRAP)).key;
}, 240_000);

afterAll(async () => {
  await platform?.stop();
});

describe('the audit trail over REST', () => {
  it('lists who did what, filtered and paged, to operators of the tenant only', async () => {
    const developer = await newKey('developer');
    const operator = await newKey('operator');
    const trail = await eventually(async () => {
      const res = await call(gateway, 'GET', '/api/v1/audit?action=api_key.created', {
        key: operator.key,
      });
      return res.status === 200 && (res.json['total'] as number) >= 3 ? res.json : undefined;
    }, 60_000);
    const created = records(trail).map((r) => r['resource_id']);
    expect(created).toEqual(expect.arrayContaining([developer.id, operator.id]));
    expect(records(trail)[0]).toMatchObject({
      action: 'api_key.created',
      resource_type: 'api_key',
      outcome: 'success',
      source: expect.stringContaining('gateway'),
    });

    const first = await call(gateway, 'GET', '/api/v1/audit?limit=1', { key: operator.key });
    expect(records(first.json)).toHaveLength(1);
    const token = first.json['next_page_token'] as string;
    expect(token).toBeTruthy();
    const second = await call(gateway, 'GET', `/api/v1/audit?limit=1&page_token=${token}`, {
      key: operator.key,
    });
    expect(records(second.json)[0]!['id']).not.toBe(records(first.json)[0]!['id']);

    const actor = records(first.json)[0]!['actor'] as string;
    const mine = await call(gateway, 'GET', `/api/v1/audit?actor=${encodeURIComponent(actor)}`, {
      key: operator.key,
    });
    expect(records(mine.json).every((r) => r['actor'] === actor)).toBe(true);
    const future = await call(
      gateway,
      'GET',
      `/api/v1/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      { key: operator.key },
    );
    expect(future.json).toMatchObject({ data: [], total: 0, next_page_token: null });

    // Developers may not read the trail; another tenant's admin sees none of it.
    expect((await call(gateway, 'GET', '/api/v1/audit', { key: developer.key })).status).toBe(403);
    const outsider = await idp.sign({
      subject: 'eve',
      tenantId: uniqueName('other'),
      roles: ['admin'],
      expiresIn: '5m',
    });
    const theirs = await call(gateway, 'GET', '/api/v1/audit', { key: outsider });
    expect(theirs.status).toBe(200);
    expect(theirs.json['total']).toBe(0);
  });

  it('keeps a refused attempt as denied, with the refusal', async () => {
    const registered = await call(gateway, 'POST', '/api/v1/sovereign/registry/models', {
      key: admin,
      body: { model_ref: 'audit-model', version: '1', jurisdiction: 'US' },
    });
    expect(registered.status).toBe(201);
    const id = registered.json['id'] as string;
    // The two-person rule: whoever registered a model may not approve it.
    const selfApproval = await call(
      gateway,
      'POST',
      `/api/v1/sovereign/registry/models/${id}/approve`,
      { key: admin, body: {} },
    );
    expect(selfApproval.status).toBe(403);
    const denied = await eventually(async () => {
      const res = await call(gateway, 'GET', '/api/v1/audit?outcome=denied&action=model.approved', {
        key: admin,
      });
      return records(res.json).find((r) => r['resource_id'] === id);
    }, 60_000);
    expect(denied).toMatchObject({
      outcome: 'denied',
      resource_type: 'model',
      details: { error_code: selfApproval.json['error_code'] },
    });
    const successes = await call(gateway, 'GET', '/api/v1/audit?action=model.registered', {
      key: admin,
    });
    expect(records(successes.json).map((r) => [r['resource_id'], r['outcome']])).toContainEqual([
      id,
      'success',
    ]);
  });

  it('writes an admin change and its audit record in one transaction: no record, no change', async () => {
    // The audit record alone fails to store (a trigger refuses audit events on the outbox): the
    // key it would have recorded must not exist either, and the next attempt, once the trail
    // stores again, keeps both.
    await platform.db.queryAsOwner(`
      create function refuse_audit() returns trigger language plpgsql as $$
      begin
        if new.event_type = 'audit.recorded' then raise exception 'audit store down'; end if;
        return new;
      end $$`);
    await platform.db.queryAsOwner(
      'create trigger refuse_audit before insert on gw_outbox for each row execute function refuse_audit()',
    );
    const name = uniqueName('unaudited');
    let refused: Awaited<ReturnType<typeof call>>;
    try {
      refused = await call(gateway, 'POST', '/api/v1/auth/keys', {
        key: admin,
        body: { name, role: 'developer' },
      });
    } finally {
      await platform.db.queryAsOwner('drop trigger refuse_audit on gw_outbox');
      await platform.db.queryAsOwner('drop function refuse_audit()');
    }
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect(refused.json['key']).toBeUndefined();
    const listed = await call(gateway, 'GET', '/api/v1/auth/keys', { key: admin });
    expect((listed.json['data'] as Json[]).map((k) => k['name'])).not.toContain(name);

    const created = await call(gateway, 'POST', '/api/v1/auth/keys', {
      key: admin,
      body: { name, role: 'developer' },
    });
    expect(created.status).toBe(201);
    const recorded = await eventually(async () => {
      const res = await call(gateway, 'GET', '/api/v1/audit?action=api_key.created', {
        key: admin,
      });
      return records(res.json).find((r) => r['resource_id'] === created.json['id']);
    }, 60_000);
    expect(recorded).toMatchObject({ outcome: 'success', details: { name } });
  });

  it("keeps the gateway's own refusals (a credential without the permission) as denied", async () => {
    const developer = await newKey('developer');
    const refused = await call(gateway, 'POST', '/api/v1/auth/keys', {
      key: developer.key,
      body: { name: 'escalation', role: 'admin' },
    });
    expect(refused.status).toBe(403);
    const denied = await eventually(async () => {
      const res = await call(
        gateway,
        'GET',
        `/api/v1/audit?outcome=denied&action=access.denied&actor=${encodeURIComponent(`key:${developer.id}`)}`,
        { key: admin },
      );
      return records(res.json).find((r) => r['resource_id'] === 'createApiKey');
    }, 60_000);
    expect(denied).toMatchObject({
      outcome: 'denied',
      actor: `key:${developer.id}`,
      details: { method: 'POST', path: '/api/v1/auth/keys', permission: 'auth:manage' },
    });
  });

  it('refuses malformed filters with the error envelope; an empty window is just empty', async () => {
    for (const query of [
      'outcome=maybe',
      'since=yesterday',
      'limit=0',
      'limit=1e2',
      'page_token=abc',
      'unknown=1',
      'until=2026-01-01',
    ]) {
      const res = await call(gateway, 'GET', `/api/v1/audit?${query}`, { key: admin });
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(res.json).toMatchObject({
        error_code: expect.any(String),
        request_id: expect.any(String),
      });
    }
    // A window that ends before it starts is empty, not an error.
    const backwards = await call(
      gateway,
      'GET',
      '/api/v1/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      { key: admin },
    );
    expect(backwards.json).toMatchObject({ data: [], total: 0 });
    const usage = await call(gateway, 'GET', '/api/v1/usage?since=2030-01-01T00:00:00Z', {
      key: admin,
    });
    expect(usage.json).toEqual({ data: [] });
  });

  it('totals a finished task by UTC day, engine and model', async () => {
    const developer = await newKey('developer');
    await summarized(developer.key);
    const usage = await eventually(async () => {
      const res = await call(gateway, 'GET', '/api/v1/usage', { key: developer.key });
      return res.status === 200 && records(res.json).length > 0 ? res.json : undefined;
    }, 60_000);
    expect(records(usage)).toEqual([
      expect.objectContaining({
        day: new Date().toISOString().slice(0, 10),
        engine: 'local-summarize',
        model: 'summarize_text',
        tasks: 1,
      }),
    ]);
  });

  it('summarises the tenant for operators: tasks, latency, spend and audit outcomes of a window', async () => {
    const developer = await newKey('developer');
    const operator = await newKey('operator');
    await summarized(developer.key);
    const stats = await eventually(async () => {
      const res = await call(gateway, 'GET', '/api/v1/stats', { key: operator.key });
      return res.status === 200 && (res.json['usage'] as Json)['input_tokens'] > 0
        ? res.json
        : undefined;
    }, 60_000);
    expect(stats['tasks']).toMatchObject({
      by_status: expect.objectContaining({ OK: expect.any(Number) }),
      in_flight: expect.any(Number),
    });
    expect((stats['tasks'] as Json)['latency_p95_ms']).toBeGreaterThan(0);
    expect((stats['audit'] as Json)['success']).toBeGreaterThan(0);
    expect(new Date(stats['until']).getTime() - new Date(stats['since']).getTime()).toBe(
      24 * 3_600_000,
    );
    const hour = await call(gateway, 'GET', '/api/v1/stats?window_hours=1', { key: operator.key });
    expect(new Date(hour.json['until']).getTime() - new Date(hour.json['since']).getTime()).toBe(
      3_600_000,
    );
    for (const bad of ['0', '721', 'x'])
      expect(
        (await call(gateway, 'GET', `/api/v1/stats?window_hours=${bad}`, { key: operator.key }))
          .json,
      ).toMatchObject({ error_code: 'validation.invalid_argument' });
    expect((await call(gateway, 'GET', '/api/v1/stats', { key: developer.key })).status).toBe(403);
    // Another tenant's admin sees none of this tenant's work.
    const outsider = await idp.sign({
      subject: 'eve',
      tenantId: uniqueName('other'),
      roles: ['admin'],
      expiresIn: '5m',
    });
    const theirs = await call(gateway, 'GET', '/api/v1/stats', { key: outsider });
    expect(theirs.json).toMatchObject({
      tasks: { by_status: {}, in_flight: 0 },
      usage: { input_tokens: 0 },
      audit: { success: 0, denied: 0 },
    });
  });
});

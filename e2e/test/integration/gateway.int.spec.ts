import { KafkaBus, payloadOf, TOPICS, type IncomingEvent } from '@aion/events';
import {
  eventually,
  httpCall,
  testBrokers,
  startOpenAiTestServer,
  startPlatform,
  testIdentityProvider,
  uniqueName,
  type OpenAiTestServer,
  type Json,
  type Platform,
} from '@aion/testing';
import { LOCAL_SUMMARIZE_ENGINE, SUMMARY_SOURCE_TEXT } from '../support/fixtures';

const BOOTSTRAP = 'e2e-bootstrap-admin-key-0123456789abcdef';
const idp = testIdentityProvider();

let platform: Platform;
let llm: OpenAiTestServer;
let gatewayA: string;
let gatewayB: string;
let narrowGateway: string;
/** An admin key of the bootstrap tenant, so the bootstrap key itself stays within its rate limit. */
let ADMIN: string;

const call = httpCall;

const summarize = (over: Record<string, unknown> = {}) => ({
  intent: 'summarize',
  params: { text: SUMMARY_SOURCE_TEXT, max_sentences: 2 },
  data_context: { jurisdiction: 'DE', classification: 'pii' },
  ...over,
});
const chat = (content = 'Hi') => ({
  intent: 'chat',
  params: { messages: [{ role: 'user', content }] },
  sla: { privacy: 'allow-api' },
  data_context: { jurisdiction: 'US', classification: 'none' },
});
const newKey = async (role = 'developer', issuer = ADMIN) => {
  const created = await call(gatewayA, 'POST', '/api/v1/auth/keys', {
    key: issuer,
    body: { name: uniqueName(role), role },
  });
  if (created.status !== 201)
    throw new Error(`could not create a key: ${created.status} ${created.text}`);
  return created.json['key'] as string;
};

async function readSse(
  base: string,
  url: string,
  key: string,
  headers: Record<string, string> = {},
  max = 50,
) {
  const res = await fetch(`${base}${url}`, {
    headers: { authorization: `Bearer ${key}`, ...headers },
  });
  const events: { id?: string; event?: string; data?: string; comment?: string }[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    const blocks = buffer.split('\n\n');
    buffer = blocks.pop() ?? '';
    for (const block of blocks) {
      const event: { id?: string; event?: string; data?: string; comment?: string } = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) event.comment = line.slice(1).trim();
        else {
          const [field, ...rest] = line.split(':');
          (event as Record<string, string>)[field!] = rest.join(':').trim();
        }
      }
      events.push(event);
    }
    if (events.some((e) => e.event === 'done' || e.event === 'error') || events.length >= max)
      break;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events };
}

beforeAll(async () => {
  llm = await startOpenAiTestServer({ reply: 'one two three four five six' });
  const gatewayEnv = {
    AION_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP,
    AION_GATEWAY_RATE_LIMIT_KEY_BURST: '40',
    AION_GATEWAY_RATE_LIMIT_KEY_PER_MINUTE: '1',
    AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE: '100000',
    AION_GATEWAY_SSE_HEARTBEAT_MS: '100',
    AION_GATEWAY_BODY_LIMIT: '64kb',
    ...idp.gatewayEnv,
  };
  platform = await startPlatform({
    database: 'e2egw',
    engines: `engines:
${LOCAL_SUMMARIZE_ENGINE}
  - { name: unreachable-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "http://127.0.0.1:9/v1", models: [test-model], intents: [draft], jurisdiction: US, region: us, price_per_1k_tokens: { input: 0, output: 0 } }
  - { name: test-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${llm.url}", models: [test-model], intents: [chat], jurisdiction: US, region: us, price_per_1k_tokens: { input: 0.001, output: 0.002 } }
`,
    modules: ['summarize_text'],
    // Two alike gateways, and one that admits a single request at a time.
    gateways: [gatewayEnv, gatewayEnv, { ...gatewayEnv, AION_GATEWAY_MAX_IN_FLIGHT: '1' }],
  });
  const url = (i: number) => `http://127.0.0.1:${platform.gateways[i]!.httpPort}`;
  [gatewayA, gatewayB, narrowGateway] = [url(0), url(1), url(2)];
  ADMIN = await newKey('admin', BOOTSTRAP);
}, 240_000);

afterAll(async () => {
  await platform?.stop();
  await llm?.close();
});

describe('gateway: REST and SSE as clients use them', () => {
  it('authenticates API keys and JWTs and enforces permissions', async () => {
    expect((await call(gatewayA, 'GET', '/v1/tasks')).json).toMatchObject({
      error_code: 'auth.unauthenticated',
    });
    expect(
      (await call(gatewayA, 'GET', '/v1/tasks', { key: 'aion_000000000000_' + 'x'.repeat(43) }))
        .status,
    ).toBe(401);
    const observer = await newKey('observer');
    const denied = await call(gatewayA, 'POST', '/v1/tasks', { key: observer, body: summarize() });
    expect(denied.status).toBe(403);
    expect(denied.json['error_code']).toBe('auth.forbidden');
    expect(denied.headers.get('x-request-id')).toBe(denied.json['request_id']);
    const jwt = await idp.sign({
      subject: 'alice',
      tenantId: 'jwt-tenant',
      roles: ['developer'],
      expiresIn: '5m',
    });
    expect((await call(gatewayA, 'GET', '/v1/tasks', { key: jwt })).status).toBe(200);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x","tenant_id":"t","iss":"https://idp.test","aud":"aion","exp":9999999999}').toString('base64url')}.`;
    expect((await call(gatewayA, 'GET', '/v1/tasks', { key: none })).status).toBe(401);
  });

  it('submits a task, waits for it with Prefer: wait, reads and lists it', async () => {
    const key = await newKey();
    const waited = await call(gatewayA, 'POST', '/v1/tasks', {
      key,
      body: summarize(),
      headers: { prefer: 'wait=10' },
    });
    expect(waited.status).toBe(200);
    expect(waited.headers.get('preference-applied')).toBe('wait=10');
    expect(waited.json).toMatchObject({
      schema_version: '1.0',
      intent: 'summarize',
      status: 'OK',
      engine: { route: 'local', name: 'local-summarize', chosen_by: 'ai-router' },
      error: null,
    });
    expect(waited.json['engine'].reason).toContain('local tier first');
    expect(waited.json['usage']).toMatchObject({ cost_usd: 0 });
    const accepted = await call(gatewayA, 'POST', '/v1/tasks', { key, body: summarize() });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get('location')).toBe(`/v1/tasks/${accepted.json['task_id']}`);
    const read = await eventually(async () => {
      const r = await call(gatewayB, 'GET', `/v1/tasks/${accepted.json['task_id']}`, { key });
      return r.json['status'] === 'OK' ? r : undefined;
    });
    expect(read.json['result'].sentences).toHaveLength(2);
    const page = await call(gatewayA, 'GET', '/v1/tasks?limit=1', { key });
    expect(page.json['data']).toHaveLength(1);
    expect(page.json['total']).toBeGreaterThanOrEqual(2);
    const next = await call(
      gatewayA,
      'GET',
      `/v1/tasks?limit=1&page_token=${page.json['next_page_token']}`,
      { key },
    );
    expect(next.json['data'][0].task_id).not.toBe(page.json['data'][0].task_id);
    const cancel = await call(gatewayA, 'POST', `/v1/tasks/${accepted.json['task_id']}/cancel`, {
      key,
      body: {},
    });
    expect(cancel.status).toBe(409);
  });

  it("keeps a task its submitter's: others of the tenant cannot read, stream, cancel or get its receipt; operators and admins can", async () => {
    // Keys issued by an admin of their own, so that this test spends its rate limit, not ADMIN's.
    const issuer = await newKey('admin');
    const owner = await newKey('developer', issuer);
    const submitted = await call(gatewayA, 'POST', '/v1/tasks', {
      key: owner,
      body: summarize(),
      headers: { prefer: 'wait=10' },
    });
    const id = submitted.json['task_id'] as string;
    const [observer, otherDeveloper, operator] = await Promise.all([
      newKey('observer', issuer),
      newKey('developer', issuer),
      newKey('operator', issuer),
    ]);
    for (const key of [observer, otherDeveloper]) {
      for (const url of [`/v1/tasks/${id}`, `/v1/tasks/${id}/receipt`, `/v1/stream/${id}`]) {
        const res = await call(gatewayA, 'GET', url, { key });
        expect([url, res.status, res.json['error_code']]).toEqual([url, 404, 'resource.not_found']);
      }
    }
    const cancel = await call(gatewayA, 'POST', `/v1/tasks/${id}/cancel`, {
      key: otherDeveloper,
      body: {},
    });
    expect(cancel.status).toBe(404);
    for (const key of [owner, operator, issuer])
      expect((await call(gatewayA, 'GET', `/v1/tasks/${id}`, { key })).status).toBe(200);
    // A finished task's stream ends after its last event, even resumed past it.
    const replay = await call(gatewayA, 'GET', `/v1/stream/${id}`, { key: owner });
    expect(replay.text).toContain('event: done');
    const resumed = await call(gatewayA, 'GET', `/v1/stream/${id}`, {
      key: owner,
      headers: { 'last-event-id': '999' },
    });
    expect(resumed.status).toBe(200);
    expect(resumed.text).not.toContain('event: done');
  });

  it('streams over SSE with token, partial and done events, heartbeats and Last-Event-ID resume', async () => {
    const key = await newKey();
    llm.behave({ tokenDelayMs: 150 });
    const submitted = await call(gatewayA, 'POST', '/v1/tasks', { key, body: chat() });
    const stream = await readSse(gatewayA, `/v1/stream/${submitted.json['task_id']}`, key);
    llm.behave({ tokenDelayMs: 0 });
    expect(stream.contentType).toContain('text/event-stream');
    const tokens = stream.events.filter((e) => e.event === 'token');
    expect(tokens.map((e) => JSON.parse(e.data!).token).join('')).toBe(
      'one two three four five six',
    );
    expect(stream.events.some((e) => e.comment === 'heartbeat')).toBe(true);
    const done = stream.events.find((e) => e.event === 'done')!;
    expect(JSON.parse(done.data!)).toMatchObject({
      status: 'OK',
      result: { message: { content: 'one two three four five six' } },
    });
    const resumed = await readSse(gatewayB, `/v1/stream/${submitted.json['task_id']}`, key, {
      'last-event-id': tokens[3]!.id!,
    });
    expect(
      resumed.events
        .filter((e) => e.event === 'token')
        .map((e) => JSON.parse(e.data!).token)
        .join(''),
    ).toBe('five six');
    const summarized = await call(gatewayA, 'POST', '/v1/tasks', { key, body: summarize() });
    const partials = await readSse(gatewayA, `/v1/stream/${summarized.json['task_id']}`, key);
    expect(partials.events.filter((e) => e.event === 'partial')).toHaveLength(2);
    const missing = await call(gatewayA, 'GET', '/v1/stream/no-such-task', { key });
    expect(missing.status).toBe(404);
    expect(missing.json['error_code']).toBe('resource.not_found');
  });

  it('replays idempotent POSTs, refuses a reused key with another payload (422), and joins a repeat to the task still running', async () => {
    const key = await newKey();
    const idem = uniqueName('idem');
    const first = await call(gatewayA, 'POST', '/v1/tasks', {
      key,
      body: summarize(),
      headers: { 'idempotency-key': idem },
    });
    const again = await call(gatewayB, 'POST', '/v1/tasks', {
      key,
      body: summarize(),
      headers: { 'idempotency-key': idem },
    });
    expect(again.status).toBe(first.status);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const listed = await call(gatewayA, 'GET', '/v1/tasks?limit=50', { key });
    expect(
      listed.json['data'].filter((t: Json) => t['task_id'] === first.json['task_id']),
    ).toHaveLength(1);
    // Developers list their own tasks: one, not one per replay.
    expect(listed.json['total']).toBe(1);
    const other = await call(gatewayA, 'POST', '/v1/tasks', {
      key,
      body: summarize({ params: { text: 'Another text.' } }),
      headers: { 'idempotency-key': idem },
    });
    expect(other.status).toBe(422);
    expect(other.json['error_code']).toBe('validation.idempotency_key_reused');
    llm.behave({ tokenDelayMs: 300 });
    const slowKey = uniqueName('slow');
    const inFlight = call(gatewayA, 'POST', '/v1/tasks', {
      key,
      body: chat(),
      headers: { 'idempotency-key': slowKey, prefer: 'wait=5' },
    });
    await new Promise((r) => setTimeout(r, 300));
    // The key derives the task id, so the repeat submits the same task instead of a second one.
    const concurrent = await call(gatewayB, 'POST', '/v1/tasks', {
      key,
      body: chat(),
      headers: { 'idempotency-key': slowKey, prefer: 'wait=5' },
    });
    const original = await inFlight;
    expect(original.status).toBe(200);
    expect(concurrent.status).toBe(200);
    expect(concurrent.json['task_id']).toBe(original.json['task_id']);
    expect([concurrent.json['deduplicated'], original.json['deduplicated']].sort()).toEqual([
      false,
      true,
    ]);
    llm.behave({ tokenDelayMs: 0 });
  });

  it('rate-limits per API key across two gateways sharing Redis, with Retry-After and RateLimit headers', async () => {
    const key = await newKey();
    const results = [];
    for (let i = 0; i < 50; i++)
      results.push(await call(i % 2 ? gatewayA : gatewayB, 'GET', '/v1/tasks?limit=1', { key }));
    const limited = results.filter((r) => r.status === 429);
    expect(results.filter((r) => r.status === 200)).toHaveLength(40);
    expect(limited).toHaveLength(10);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    // Both buckets are taken in one step and named, each with what it has left.
    expect(limited[0]!.headers.get('ratelimit-policy')).toMatch(
      /^"per-ip";q=\d+;w=60;burst=\d+, "per-key";q=1;w=60;burst=40$/,
    );
    expect(limited[0]!.headers.get('ratelimit')).toMatch(
      /^"per-ip";r=\d+;t=\d+, "per-key";r=0;t=\d+$/,
    );
    expect(limited[0]!.json['error_code']).toBe('rate_limit.exceeded');
  });

  it('manages API keys: shown once, listed without secrets, revoked keys stop working', async () => {
    const created = await call(gatewayA, 'POST', '/api/v1/auth/keys', {
      key: BOOTSTRAP,
      body: { name: 'ci', role: 'developer' },
    });
    expect(created.status).toBe(201);
    const secret = created.json['key'] as string;
    // aion_<prefix>_<secret part>: base64url, so the secret part may itself hold an underscore.
    const secretPart = secret.split('_').slice(2).join('_');
    expect(secretPart).toHaveLength(43);
    expect((await call(gatewayA, 'GET', '/v1/tasks', { key: secret })).status).toBe(200);
    const listed = await call(gatewayA, 'GET', '/api/v1/auth/keys', { key: BOOTSTRAP });
    expect(listed.text).not.toContain(secretPart);
    expect(listed.json['data'].find((k: Json) => k['id'] === created.json['id'])).toMatchObject({
      name: 'ci',
      role: 'developer',
      revoked_at: null,
    });
    expect((await call(gatewayA, 'GET', '/api/v1/auth/keys', { key: secret })).status).toBe(403);
    expect(
      (
        await call(gatewayA, 'POST', `/api/v1/auth/keys/${created.json['id']}/revoke`, {
          key: BOOTSTRAP,
        })
      ).status,
    ).toBe(204);
    expect((await call(gatewayB, 'GET', '/v1/tasks', { key: secret })).status).toBe(401);
    // Both admin actions are on audit.activity, with the actor and never the secret.
    const audit: IncomingEvent[] = [];
    const bus = new KafkaBus({ brokers: testBrokers(), clientId: uniqueName('gw-audit') });
    const subscription = await bus.subscribe({
      groupId: uniqueName('gw-audit'),
      topics: [TOPICS.auditActivity],
      handler: async (e) => void audit.push(e),
    });
    const actions = () =>
      audit
        .map((e) => payloadOf(e.envelope, 'audit.recorded'))
        .filter((p) => p.resourceId === created.json['id']);
    await eventually(() => actions().length === 2, 30_000);
    expect(
      actions()
        .map((p) => p.action)
        .sort(),
    ).toEqual(['api_key.created', 'api_key.revoked']);
    expect(actions()[0]!.actor).toBe('key:bootstrap');
    expect(JSON.stringify(audit.map((e) => e.value.toString()))).not.toContain(secretPart);
    await subscription.stop();
    await bus.close();
  });

  it('maps budget and circuit-breaker routes onto the orchestrator', async () => {
    expect(
      (await call(gatewayA, 'PUT', '/api/v1/budget/limits', { key: ADMIN, body: { limit_usd: 2 } }))
        .json,
    ).toMatchObject({ limit_usd: 2, remaining_usd: 2 });
    expect(
      (
        await call(gatewayA, 'POST', '/api/v1/budget/request', {
          key: ADMIN,
          body: { request_id: 'b-1', amount_usd: 1.5 },
        })
      ).json,
    ).toMatchObject({ status: 'RESERVED', amount_usd: 1.5 });
    const over = await call(gatewayA, 'POST', '/api/v1/budget/request', {
      key: ADMIN,
      body: { request_id: 'b-2', amount_usd: 1 },
    });
    expect(over.status).toBe(429);
    expect(over.json['error_code']).toBe('budget.exceeded');
    expect(
      (
        await call(gatewayA, 'POST', '/api/v1/budget/commit', {
          key: ADMIN,
          body: { request_id: 'b-1', actual_usd: 1.2 },
        })
      ).json,
    ).toMatchObject({ status: 'COMMITTED', committed_usd: 1.2 });
    expect(
      (
        await call(gatewayA, 'POST', '/api/v1/budget/release', {
          key: ADMIN,
          body: { request_id: 'b-1' },
        })
      ).status,
    ).toBe(409);
    expect(
      (await call(gatewayA, 'GET', '/api/v1/budget/state', { key: ADMIN })).json,
    ).toMatchObject({ committed_usd: 1.2, reserved_usd: 0 });
    expect(
      (
        await call(gatewayA, 'POST', '/api/v1/budget/release', {
          key: ADMIN,
          body: { request_id: 'never' },
        })
      ).status,
    ).toBe(404);
    expect((await call(gatewayA, 'GET', '/api/v1/circuit-breakers', { key: ADMIN })).status).toBe(
      200,
    );
    expect(
      (await call(gatewayA, 'POST', '/api/v1/circuit-breakers/reset_all', { key: await newKey() }))
        .status,
    ).toBe(403);
    expect(
      (await call(gatewayA, 'POST', '/api/v1/circuit-breakers/reset_all', { key: ADMIN })).json,
    ).toHaveProperty('reset');
  });

  it('shows failed tasks in the dead-letter queue to operators; admins replay or resolve them once', async () => {
    const developer = await newKey();
    const operator = await newKey('operator');
    // Its own admin key: ADMIN's rate-limit bucket is shared by the other tests.
    const ops = await newKey('admin');
    const failed = await call(gatewayA, 'POST', '/v1/tasks', {
      key: developer,
      body: { ...chat('Draft a note'), intent: 'draft' },
      headers: { prefer: 'wait=10' },
    });
    expect(failed.json).toMatchObject({ status: 'ERROR', error: { code: 'engine.failed' } });
    const open = await call(gatewayA, 'GET', '/api/v1/dlq?resolved=false&limit=50', {
      key: ops,
    });
    expect(open.status).toBe(200);
    const entry = open.json['data'].find((e: Json) => e['ref'] === failed.json['task_id']) as Json;
    expect(entry).toMatchObject({
      source: 'task',
      subject: 'draft',
      error_code: 'engine.failed',
      retry_count: 1,
      resolved: false,
      resolution: null,
    });
    expect(entry['payload']).toMatchObject({ intent: 'draft' });
    expect((await call(gatewayA, 'GET', `/api/v1/dlq/${entry['id']}`, { key: ops })).json).toEqual(
      entry,
    );
    expect((await call(gatewayA, 'GET', '/api/v1/dlq', { key: developer })).status).toBe(403);
    expect(
      (await call(gatewayA, 'GET', `/api/v1/dlq/${entry['id']}`, { key: operator })).json,
    ).toEqual(entry);
    // Resolving and replaying are admin-only (the governance seed), the operator's read is not.
    for (const key of [developer, operator])
      for (const verb of ['resolve', 'replay'])
        expect(
          (await call(gatewayA, 'POST', `/api/v1/dlq/${entry['id']}/${verb}`, { key })).json,
        ).toMatchObject({ error_code: 'auth.forbidden' });
    const replayed = await call(gatewayA, 'POST', `/api/v1/dlq/${entry['id']}/replay`, {
      key: ops,
      body: { note: 'endpoint fixed' },
    });
    expect(replayed.json).toMatchObject({
      resolved: true,
      resolution: 'replayed',
      note: 'endpoint fixed',
      replay_ref: `replay-${entry['id']}`,
    });
    const twice = await call(gatewayA, 'POST', `/api/v1/dlq/${entry['id']}/resolve`, {
      key: ops,
    });
    expect(twice.status).toBe(409);
    expect(twice.json['message']).toMatch(/already replayed/);
    const missing = await call(
      gatewayA,
      'GET',
      '/api/v1/dlq/00000000-0000-4000-8000-000000000000',
      { key: ops },
    );
    expect(missing.status).toBe(404);
    for (const [url, method] of [
      ['/api/v1/dlq?resolved=maybe', 'GET'],
      ['/api/v1/dlq?limit=0', 'GET'],
      ['/api/v1/dlq/not-a-uuid', 'GET'],
      [`/api/v1/dlq/${entry['id']}/resolve`, 'POST'],
    ] as const) {
      const bad = await call(gatewayA, method, url, {
        key: ops,
        ...(method === 'POST' ? { body: { note: 'x'.repeat(1001) } } : {}),
      });
      expect(bad.status).toBe(400);
      expect(bad.json['error_code']).toBe('validation.invalid_argument');
    }
  });

  it('governs learning over REST: role limits, 429 with Retry-After past them, status, approval by another person', async () => {
    const ops = await newKey('admin');
    const learner = await newKey();
    const saved = await call(gatewayA, 'PUT', '/api/v1/governance/roles/writer', {
      key: ops,
      body: { daily_update_limit: 2, cooldown_seconds: 600, description: 'drafts replies' },
    });
    expect(saved.json).toMatchObject({
      role: 'writer',
      limits: { daily_update_limit: 2, cooldown_seconds: 600, requires_approval: false },
      usage: { updates_today: 0, remaining_today: 2 },
      active_version: null,
    });
    const first = await call(gatewayA, 'POST', '/api/v1/governance/roles/writer/prompts', {
      key: learner,
      body: { prompt: 'Write briefly.', reason: 'shorter answers scored better' },
    });
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ version: 1, status: 'active', source: 'automatic' });
    const second = await call(gatewayA, 'POST', '/api/v1/governance/roles/writer/prompts', {
      key: learner,
      body: { prompt: 'Write even more briefly.' },
    });
    expect(second.status).toBe(429);
    expect(second.json['error_code']).toBe('rate_limit.exceeded');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(590);
    const status = await call(gatewayA, 'GET', '/api/v1/governance/status', { key: learner });
    // The tenant's default roles (developer, security) are listed with the one it made.
    expect(status.json['roles']).toEqual([
      expect.objectContaining({ role: 'developer' }),
      expect.objectContaining({ role: 'security' }),
      expect.objectContaining({
        role: 'writer',
        usage: expect.objectContaining({ updates_today: 1, remaining_today: 1 }),
        active_version: 1,
      }),
    ]);
    expect(
      (await call(gatewayA, 'GET', '/api/v1/governance/roles/writer/prompts', { key: learner }))
        .json['data'],
    ).toHaveLength(1);
    for (const [method, url, body] of [
      ['PUT', '/api/v1/governance/roles/Writer!', { daily_update_limit: 1, cooldown_seconds: 0 }],
      ['PUT', '/api/v1/governance/roles/writer', { daily_update_limit: -1, cooldown_seconds: 0 }],
      ['POST', '/api/v1/governance/roles/writer/prompts', { prompt: '   ' }],
      ['POST', '/api/v1/governance/roles/writer/prompts/zero/approve', {}],
    ] as const) {
      const bad = await call(gatewayA, method, url, { key: ops, body });
      expect(bad.status).toBe(400);
      expect(bad.json['error_code']).toBe('validation.invalid_argument');
    }
    expect(
      (
        await call(gatewayA, 'PUT', '/api/v1/governance/roles/writer', {
          key: learner,
          body: { daily_update_limit: 99, cooldown_seconds: 0 },
        })
      ).status,
    ).toBe(403);

    // Four eyes compare people: a second key made with the proposer's key is the same person
    // (both are the bootstrap operator's), a login of another user is not.
    await call(gatewayA, 'PUT', '/api/v1/governance/roles/counsel', {
      key: ops,
      body: { daily_update_limit: 5, cooldown_seconds: 0, requires_approval: true },
    });
    const proposed = await call(gatewayA, 'POST', '/api/v1/governance/roles/counsel/prompts', {
      key: ops,
      body: { prompt: 'Cite the statute.' },
    });
    expect(proposed.json).toMatchObject({ version: 1, status: 'pending_approval' });
    const secondKey = await newKey('admin', ops);
    const own = await call(gatewayA, 'POST', '/api/v1/governance/roles/counsel/prompts/1/approve', {
      key: secondKey,
    });
    expect(own.status).toBe(403);
    expect(own.json['error_code']).toBe('auth.forbidden');
    const username = uniqueName('reviewer');
    const reviewer = await call(gatewayA, 'POST', '/api/v1/auth/users', {
      key: ops,
      body: { username, password: 'correct horse battery', role: 'admin' },
    });
    const login = await call(gatewayA, 'POST', '/api/v1/auth/login', {
      body: { tenant_id: reviewer.json['tenant_id'], username, password: 'correct horse battery' },
    });
    const approved = await call(
      gatewayA,
      'POST',
      '/api/v1/governance/roles/counsel/prompts/1/approve',
      { key: login.json['access_token'], body: { note: 'reviewed' } },
    );
    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({
      status: 'active',
      decided_by: `user:${reviewer.json['id'] as string}`,
    });
  });

  it('answers a bad request at every route with the right 4xx envelope', async () => {
    const key = await newKey();
    const cases: [string, string, Parameters<typeof call>[3], number, string][] = [
      ['POST', '/v1/tasks', { raw: '{"intent":' }, 400, 'validation.malformed_json'],
      [
        'POST',
        '/v1/tasks',
        { raw: JSON.stringify({ big: 'x'.repeat(70_000) }) },
        413,
        'validation.payload_too_large',
      ],
      [
        'POST',
        '/v1/tasks',
        { raw: 'intent=x', headers: { 'content-type': 'text/plain' } },
        415,
        'validation.unsupported_media_type',
      ],
      [
        'POST',
        '/v1/tasks',
        {
          body: {
            intent: 'summarize',
            params: { text: '' },
            data_context: { jurisdiction: 'XX', classification: 'secret' },
          },
        },
        400,
        'validation.invalid_argument',
      ],
      // What no route schema sees: broken percent-encoding, hostile nesting, bad encodings, U+0000.
      ['GET', '/v1/tasks/%E0%A4%A', {}, 400, 'validation.invalid_argument'],
      [
        'POST',
        '/v1/tasks',
        { raw: `${'['.repeat(40)}${']'.repeat(40)}` },
        400,
        'validation.invalid_argument',
      ],
      [
        'POST',
        '/v1/tasks',
        { raw: JSON.stringify(summarize()), headers: { 'content-encoding': 'x-unknown' } },
        400,
        'validation.invalid_argument',
      ],
      [
        'POST',
        '/v1/tasks',
        { raw: JSON.stringify(summarize()), headers: { 'content-encoding': 'gzip' } },
        400,
        'validation.invalid_argument',
      ],
      [
        'POST',
        '/v1/tasks',
        { body: { ...summarize(), metadata: { note: 'a\u0000b' } } },
        400,
        'validation.invalid_argument',
      ],
      ['PATCH', '/v1/tasks', {}, 405, 'validation.method_not_allowed'],
      ['GET', '/v1/tasks?limit=0', {}, 400, 'validation.invalid_argument'],
      ['GET', '/v1/tasks?limit=', {}, 400, 'validation.invalid_argument'],
      ['GET', '/v1/tasks?page_token=not-a-token', {}, 400, 'validation.invalid_argument'],
      ['GET', '/v1/tasks?status=DONE', {}, 400, 'validation.invalid_argument'],
      ['GET', '/v1/tasks/bad%20id', {}, 400, 'validation.invalid_argument'],
      ['GET', '/v1/tasks/unknown-task', {}, 404, 'resource.not_found'],
      [
        'POST',
        '/v1/tasks/unknown-task/cancel',
        { body: { reason: 5 } },
        400,
        'validation.invalid_argument',
      ],
      ['POST', '/v1/tasks/unknown-task/cancel', { body: {} }, 404, 'resource.not_found'],
      [
        'GET',
        '/v1/stream/some-task',
        { headers: { 'last-event-id': 'abc' } },
        400,
        'validation.invalid_argument',
      ],
      [
        'POST',
        '/v1/tasks',
        { body: summarize(), headers: { 'idempotency-key': 'bad key with spaces é' } },
        400,
        'validation.invalid_argument',
      ],
      [
        'POST',
        '/api/v1/budget/request',
        { body: { request_id: '', amount_usd: -1 } },
        403,
        'auth.forbidden',
      ],
      [
        'GET',
        '/api/v1/budget/state?project_id=' + 'x'.repeat(100),
        {},
        400,
        'validation.invalid_argument',
      ],
      ['GET', '/v1/nothing-here', {}, 404, 'resource.not_found'],
    ];
    for (const [method, url, options, status, code] of cases) {
      const res = await call(gatewayA, method, url, { key, ...options });
      expect([method, url, res.status, res.json['error_code']]).toEqual([
        method,
        url,
        status,
        code,
      ]);
      expect(typeof res.json['request_id']).toBe('string');
      expect(res.text).not.toMatch(/at .+\.ts:\d+|stack/i);
    }
    const invalid = await call(gatewayA, 'POST', '/v1/tasks', {
      key,
      body: {
        intent: 'summarize',
        params: { text: '' },
        data_context: { jurisdiction: 'XX', classification: 'secret' },
      },
    });
    expect(invalid.json['details'].map((d: Json) => d['field']).sort()).toEqual([
      'data_context.classification',
      'data_context.jurisdiction',
      'params.text',
    ]);
    const admin = [
      ['POST', '/api/v1/auth/keys', { body: { name: '', role: 'root' } }],
      ['POST', '/api/v1/auth/keys/not-a-uuid/revoke', {}],
      ['POST', '/api/v1/budget/request', { body: { request_id: '', amount_usd: -1 } }],
      ['POST', '/api/v1/budget/commit', { body: { request_id: 'x' } }],
      ['POST', '/api/v1/budget/release', { body: {} }],
      ['PUT', '/api/v1/budget/limits', { body: { limit_usd: 'lots' } }],
    ] as const;
    for (const [method, url, options] of admin) {
      const res = await call(gatewayA, method, url, { key: ADMIN, ...options });
      expect([url, res.status, res.json['error_code']]).toEqual([
        url,
        400,
        'validation.invalid_argument',
      ]);
    }
  });

  it('serves the OpenAPI 3.1 document of exactly the routes it serves', async () => {
    const doc = (await call(gatewayA, 'GET', '/openapi.json')).json;
    expect(doc['openapi']).toBe('3.1.0');
    const operations = Object.entries(
      doc['paths'] as Record<string, Record<string, { security?: unknown[] }>>,
    ).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    );
    expect(operations.length).toBeGreaterThan(50);
    // Every documented operation is served: without a credential a protected one answers 401
    // (never 404), a public one anything but 404/405; an undocumented method on a path gets 405.
    for (const { path, method, op } of operations) {
      const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await call(gatewayA, method.toUpperCase(), url, {});
      if (op.security?.length === 0)
        expect([path, method, res.status]).not.toEqual([path, method, 404]);
      else expect([path, method, res.status]).toEqual([path, method, 401]);
    }
    const patched = await call(gatewayA, 'PATCH', '/v1/tasks', { key: ADMIN });
    expect(patched.status).toBe(405);
    expect(patched.headers.get('allow')).toBe('POST, GET, HEAD');
    expect(
      doc['paths']['/v1/tasks'].post.requestBody.content['application/json'].schema.anyOf[0]
        .required,
    ).toEqual(expect.arrayContaining(['intent', 'data_context']));
  });

  it('sheds load beyond its in-flight bound with 503 and Retry-After', async () => {
    const key = await newKey();
    llm.behave({ tokenDelayMs: 500 });
    // An open event stream holds a stream slot, not the one request slot.
    const streamed = await call(narrowGateway, 'POST', '/v1/tasks', { key, body: chat() });
    const controller = new AbortController();
    const stream = await fetch(`${narrowGateway}/v1/stream/${streamed.json['task_id']}`, {
      headers: { authorization: `Bearer ${key}` },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect((await call(narrowGateway, 'GET', '/v1/tasks', { key })).status).toBe(200);
    // A request that waits for its task (~3 s) holds it: once another gateway sees the task, it
    // is in flight, and the next request is shed.
    const taskId = uniqueName('holding');
    // Polled with an operator's key (it sees the tenant's tasks; its own rate-limit bucket).
    const watcher = await newKey('operator');
    const holding = call(narrowGateway, 'POST', '/v1/tasks', {
      key,
      body: { ...chat(), task_id: taskId },
      headers: { prefer: 'wait=20' },
    });
    await eventually(
      async () =>
        (await call(gatewayA, 'GET', `/v1/tasks/${taskId}`, { key: watcher })).status === 200,
      5_000,
      200,
    );
    const shed = await call(narrowGateway, 'GET', '/v1/tasks', { key });
    controller.abort();
    await stream.body?.cancel().catch(() => undefined);
    expect((await holding).status).toBe(200);
    llm.behave({ tokenDelayMs: 0 });
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(shed.json['error_code']).toBe('service.unavailable');
  });
});

describe('gateway: OpenAI-compatible API with the official openai client', () => {
  it('lists models and answers chat completions, streamed and not, with usage', async () => {
    const { default: OpenAI } = await import('openai');
    const client = new OpenAI({
      baseURL: `${gatewayA}/v1`,
      apiKey: await newKey(),
      defaultHeaders: { 'Aion-Jurisdiction': 'US', 'Aion-Privacy': 'allow-api' },
      maxRetries: 0,
    });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(
      expect.arrayContaining(['test-llm', 'test-model']),
    );
    const completion = await client.chat.completions.create({
      model: 'test-llm',
      messages: [{ role: 'user', content: 'Say something' }],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]!.message.content).toBe('one two three four five six');
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    // Not streamed by the client, so not by the provider, and no token rows kept for it.
    expect(llm.requests.at(-1)!.body['stream']).toBeUndefined();
    const kept = await platform.db.queryAsOwner<{ kind: string }>(
      'select kind from orc_task_events where task_id = $1',
      [completion.id.replace(/^chatcmpl-/, '')],
    );
    expect(kept.map((e) => e.kind)).toEqual(['done']);
    const stream = await client.chat.completions.create({
      model: 'test-model',
      messages: [{ role: 'user', content: 'Stream it' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('one two three four five six');
    expect(usage).toMatchObject({ total_tokens: expect.any(Number) });
    expect(llm.requests.at(-1)!.body).toMatchObject({ model: 'test-model', stream: true });
  });

  it('raises the SDK errors OpenAI users expect, in OpenAI error shape', async () => {
    const {
      default: OpenAI,
      AuthenticationError,
      NotFoundError,
      BadRequestError,
    } = await import('openai');
    const client = new OpenAI({ baseURL: `${gatewayA}/v1`, apiKey: await newKey(), maxRetries: 0 });
    const unknownModel = await client.chat.completions
      .create({ model: 'gpt-imaginary', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    // As OpenAI answers a model it does not have: 404 (the SDK's NotFoundError).
    expect(unknownModel).toBeInstanceOf(NotFoundError);
    expect((unknownModel as InstanceType<typeof NotFoundError>).code).toBe(
      'resource.model_not_found',
    );
    expect((unknownModel as Error).message).toContain('"gpt-imaginary" does not exist');
    await expect(
      new OpenAI({ baseURL: `${gatewayA}/v1`, apiKey: 'wrong', maxRetries: 0 }).models.list(),
    ).rejects.toBeInstanceOf(AuthenticationError);
    await expect(
      client.chat.completions.create({ model: 'test-llm', messages: [] }),
    ).rejects.toBeInstanceOf(BadRequestError);
    const raw = await call(gatewayA, 'POST', '/v1/chat/completions', {
      key: await newKey(),
      raw: '{"model":',
    });
    expect(raw.status).toBe(400);
    expect(raw.json['error']).toMatchObject({
      type: 'invalid_request_error',
      code: 'validation.malformed_json',
    });
  });
});

describe('gateway: WebSocket /v1/ws', () => {
  async function connect(base: string, key?: string) {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(
      `${base.replace('http', 'ws')}/v1/ws`,
      key ? { headers: { authorization: `Bearer ${key}` } } : {},
    );
    const messages: Json[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as Json));
    const opened = await new Promise<{ ok: boolean; status?: number }>((resolve) => {
      ws.once('open', () => resolve({ ok: true }));
      ws.once('unexpected-response', (_req, res) =>
        resolve({ ok: false, status: res.statusCode ?? 0 }),
      );
      ws.once('error', () => resolve({ ok: false }));
    });
    return { ws, messages, opened };
  }

  it('subscribes to tasks, streams the same event kinds, answers pings, and unsubscribes', async () => {
    const key = await newKey();
    const { ws, messages, opened } = await connect(gatewayA, key);
    expect(opened.ok).toBe(true);
    llm.behave({ tokenDelayMs: 50 });
    const task = await call(gatewayA, 'POST', '/v1/tasks', { key, body: chat() });
    ws.send(JSON.stringify({ type: 'subscribe', task_id: task.json['task_id'] }));
    ws.send(JSON.stringify({ type: 'ping', id: 7 }));
    await eventually(
      () => messages.some((m) => m['type'] === 'event' && m['event'] === 'done'),
      15_000,
    );
    llm.behave({ tokenDelayMs: 0 });
    expect(messages[0]).toMatchObject({ type: 'welcome' });
    expect(messages).toContainEqual({ type: 'pong', id: 7 });
    expect(messages).toContainEqual({ type: 'subscribed', task_id: task.json['task_id'] });
    const tokens = messages
      .filter((m) => m['event'] === 'token')
      .map((m) => m['data'].token)
      .join('');
    expect(tokens).toBe('one two three four five six');
    expect(messages.find((m) => m['event'] === 'done')!['data']).toMatchObject({ status: 'OK' });
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'subscribe', task_id: '../bad' }));
    ws.send(JSON.stringify({ type: 'subscribe', task_id: 'missing-task' }));
    ws.send(JSON.stringify({ type: 'unsubscribe', task_id: 'other-task' }));
    await eventually(
      () =>
        messages.filter((m) => m['type'] === 'error').length >= 3 &&
        messages.some((m) => m['type'] === 'unsubscribed'),
      10_000,
    );
    const errors = messages.filter((m) => m['type'] === 'error').map((m) => m['error_code']);
    expect(errors).toEqual(
      expect.arrayContaining([
        'validation.malformed_json',
        'validation.invalid_argument',
        'resource.not_found',
      ]),
    );
    ws.close();
  });

  it('refuses connections without valid credentials', async () => {
    expect((await connect(gatewayA)).opened).toEqual({ ok: false, status: 401 });
    expect((await connect(gatewayA, 'aion_000000000000_' + 'y'.repeat(43))).opened).toEqual({
      ok: false,
      status: 401,
    });
  });
});

describe('gateway: password login', () => {
  it('logs in, uses the access token, rotates refresh tokens and revokes a replayed family', async () => {
    const username = uniqueName('ada');
    const created = await call(gatewayA, 'POST', '/api/v1/auth/users', {
      key: ADMIN,
      body: { username, password: 'correct horse battery', role: 'developer' },
    });
    expect(created.status).toBe(201);
    const tenantId = created.json['tenant_id'] as string;
    expect(
      (
        await call(gatewayA, 'POST', '/api/v1/auth/users', {
          key: ADMIN,
          body: { username, password: 'correct horse battery', role: 'developer' },
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await call(gatewayA, 'POST', '/api/v1/auth/users', {
          key: ADMIN,
          body: { username: 'x', password: 'short', role: 'developer' },
        })
      ).status,
    ).toBe(400);
    const login = await call(gatewayA, 'POST', '/api/v1/auth/login', {
      body: { tenant_id: tenantId, username, password: 'correct horse battery' },
    });
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    expect(login.json).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(
      (await call(gatewayB, 'GET', '/v1/tasks', { key: login.json['access_token'] })).status,
    ).toBe(200);
    expect(
      (await call(gatewayB, 'GET', '/api/v1/auth/keys', { key: login.json['access_token'] }))
        .status,
    ).toBe(403);
    const rotated = await call(gatewayA, 'POST', '/api/v1/auth/refresh', {
      body: { refresh_token: login.json['refresh_token'] },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.json['refresh_token']).not.toBe(login.json['refresh_token']);
    const replay = await call(gatewayB, 'POST', '/api/v1/auth/refresh', {
      body: { refresh_token: login.json['refresh_token'] },
    });
    expect(replay.status).toBe(401);
    expect(replay.json['message']).toContain('already used');
    expect(
      (
        await call(gatewayA, 'POST', '/api/v1/auth/refresh', {
          body: { refresh_token: rotated.json['refresh_token'] },
        })
      ).status,
    ).toBe(401);
    expect(
      (await call(gatewayA, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: 'garbage' } }))
        .status,
    ).toBe(401);
  });

  it('locks an account after repeated failures, across gateways, without telling which part was wrong', async () => {
    const username = uniqueName('bob');
    const created = await call(gatewayA, 'POST', '/api/v1/auth/users', {
      key: ADMIN,
      body: { username, password: 'a very long password', role: 'observer' },
    });
    const tenantId = created.json['tenant_id'] as string;
    const wrong = await call(gatewayA, 'POST', '/api/v1/auth/login', {
      body: { tenant_id: tenantId, username, password: 'nope' },
    });
    const unknownUser = await call(gatewayA, 'POST', '/api/v1/auth/login', {
      body: { tenant_id: tenantId, username: 'nobody', password: 'nope' },
    });
    expect(wrong.json['message']).toBe(unknownUser.json['message']);
    for (let i = 0; i < 3; i++)
      await call(i % 2 ? gatewayA : gatewayB, 'POST', '/api/v1/auth/login', {
        body: { tenant_id: tenantId, username, password: 'nope' },
      });
    const locked = await call(gatewayB, 'POST', '/api/v1/auth/login', {
      body: { tenant_id: tenantId, username, password: 'nope' },
    });
    expect(locked.status).toBe(403);
    expect(locked.json['error_code']).toBe('auth.account_locked');
    expect(locked.headers.get('retry-after')).toBe('900');
    const evenRight = await call(gatewayA, 'POST', '/api/v1/auth/login', {
      body: { tenant_id: tenantId, username, password: 'a very long password' },
    });
    expect(evenRight.json['error_code']).toBe('auth.account_locked');
    expect(
      (
        await call(gatewayA, 'POST', '/api/v1/auth/login', {
          body: { tenant_id: 'x', username: '' },
        })
      ).status,
    ).toBe(400);
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createTestDatabase,
  distributedEnv,
  freePort,
  httpCall as call,
  migrateTestDatabase,
  sampleModule,
  startOpenAiTestServer,
  startPrivateRedis,
  uniqueName,
  type OpenAiTestServer,
  type PrivateRedis,
  type TestDatabase,
} from '@aion/testing';
import { LOCAL_SUMMARIZE_ENGINE, SUMMARY_SOURCE_TEXT } from '../support/fixtures';

// The co-located profile on real PostgreSQL, Redis and Kafka (issue 14): the four core services in
// one process (tools/launcher/start-co-located.ts), calling each other in-process. A client sees
// the same platform as the distributed one; the metrics prove no call between them travelled.

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const BOOTSTRAP = 'e2e-colocated-bootstrap-key-0123456789abcdef';

let db: TestDatabase;
let llm: OpenAiTestServer;
// Its own Redis, so that every command it counts is this process's.
let redis: PrivateRedis;
let serviceMetrics: string[] = [];
let child: ChildProcess;
let dir: string;
let gateway: string;
let ops: string;
let orchestratorMetrics: string;
let output = '';

beforeAll(async () => {
  db = await createTestDatabase('colocated');
  migrateTestDatabase(db);
  llm = await startOpenAiTestServer({ reply: 'one two three' });
  redis = await startPrivateRedis();
  dir = mkdtempSync(path.join(os.tmpdir(), 'aion-colocated-'));
  const engines = path.join(dir, 'engines.yaml');
  writeFileSync(
    engines,
    `engines:\n${LOCAL_SUMMARIZE_ENGINE}\n  - { name: test-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${llm.url}", models: [test-model], intents: [chat], jurisdiction: US, region: us, price_per_1k_tokens: { input: 0.001, output: 0.002 } }\n`,
  );
  const [gwHttp, gwOps, gwGrpc, orcHttp, orcGrpc, sovHttp, sovGrpc, mhHttp, mhGrpc] =
    await Promise.all(Array.from({ length: 9 }, freePort));
  child = spawn(process.execPath, ['--import', 'tsx', 'tools/launcher/start-co-located.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      ...distributedEnv(db, randomBytes(24).toString('hex')),
      REDIS_URL: redis.url,
      AION_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP,
      AION_BOOTSTRAP_TENANT: uniqueName('tenant'),
      AION_GATEWAY_HTTP_PORT: String(gwHttp),
      AION_GATEWAY_OPS_PORT: String(gwOps),
      AION_GATEWAY_GRPC_PORT: String(gwGrpc),
      AION_ORCHESTRATOR_HTTP_PORT: String(orcHttp),
      AION_ORCHESTRATOR_GRPC_PORT: String(orcGrpc),
      AION_SOVEREIGN_HTTP_PORT: String(sovHttp),
      AION_SOVEREIGN_GRPC_PORT: String(sovGrpc),
      AION_MODULE_HOST_HTTP_PORT: String(mhHttp),
      AION_MODULE_HOST_GRPC_PORT: String(mhGrpc),
      AION_GATEWAY_ORCHESTRATOR_ADDRESS: `127.0.0.1:${orcGrpc}`,
      AION_GATEWAY_SOVEREIGN_ADDRESS: `127.0.0.1:${sovGrpc}`,
      AION_ORCHESTRATOR_SOVEREIGN_ADDRESS: `127.0.0.1:${sovGrpc}`,
      AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: `127.0.0.1:${mhGrpc}`,
      AION_ORCHESTRATOR_ENGINES_FILE: engines,
      AION_ORCHESTRATOR_SOVEREIGN_GROUP_PREFIX: uniqueName('orc-sov'),
      AION_ORCHESTRATOR_DLQ_CONSUMER_GROUP: uniqueName('dlq-recorder'),
      AION_ORCHESTRATOR_AUDIT_CONSUMER_GROUP: uniqueName('audit-recorder'),
      AION_SOVEREIGN_CACHE_GROUP_PREFIX: uniqueName('sov-cache'),
      AION_MODULE_HOST_PRELOAD: sampleModule('summarize_text'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on(
    'data',
    (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)),
  );
  child.stderr!.on(
    'data',
    (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)),
  );
  gateway = `http://127.0.0.1:${gwHttp}`;
  ops = `http://127.0.0.1:${gwOps}`;
  orchestratorMetrics = `http://127.0.0.1:${orcHttp}/metrics`;
  serviceMetrics = [
    `${ops}/metrics`,
    orchestratorMetrics,
    `http://127.0.0.1:${sovHttp}/metrics`,
    `http://127.0.0.1:${mhHttp}/metrics`,
  ];
  for (let i = 0; ; i++) {
    const ready = await fetch(`${ops}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (i > 240 || child.exitCode !== null)
      throw new Error(`the co-located process did not become ready: ${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}, 240_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await llm?.close();
  await redis?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** aion_grpc_client_calls_total of one service, summed by transport. */
async function clientCalls(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const sums: Record<string, number> = {};
  for (const [, transport, value] of text.matchAll(
    /^aion_grpc_client_calls_total\{[^}]*transport="(\w+)"[^}]*\} (\d+)/gm,
  ))
    sums[transport!] = (sums[transport!] ?? 0) + Number(value);
  return sums;
}

describe('the co-located profile on PostgreSQL, Redis and Kafka', () => {
  it('serves tasks, chat, streams and refusals as the distributed platform does, with no call between its services over gRPC', async () => {
    const done = await call(gateway, 'POST', '/v1/tasks', {
      key: BOOTSTRAP,
      headers: { prefer: 'wait=20' },
      body: {
        intent: 'summarize',
        params: { text: SUMMARY_SOURCE_TEXT, max_sentences: 2 },
        data_context: { jurisdiction: 'DE', classification: 'pii' },
      },
    });
    expect(done.json).toMatchObject({ status: 'OK', engine: { name: 'local-summarize' } });
    const receipt = await call(gateway, 'GET', `/v1/tasks/${done.json['task_id']}/receipt`, {
      key: BOOTSTRAP,
    });
    expect(receipt.status).toBe(200);

    const chat = await call(gateway, 'POST', '/v1/chat/completions', {
      key: BOOTSTRAP,
      body: { model: 'test-model', messages: [{ role: 'user', content: 'Hi' }] },
    });
    expect(chat.json['choices']).toEqual([
      expect.objectContaining({ message: { role: 'assistant', content: 'one two three' } }),
    ]);

    const streamed = await fetch(`${gateway}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'test-model',
        stream: true,
        messages: [{ role: 'user', content: 'Stream it' }],
      }),
    });
    const events = await streamed.text();
    expect(events).toContain('"content":"one "');
    expect(events.trim().endsWith('data: [DONE]')).toBe(true);

    // Permissions hold in-process as over the network: an observer may not submit.
    const observer = await call(gateway, 'POST', '/api/v1/auth/keys', {
      key: BOOTSTRAP,
      body: { name: 'reader', role: 'observer' },
    });
    const refused = await call(gateway, 'POST', '/v1/tasks', {
      key: observer.json['key'] as string,
      body: { intent: 'summarize', params: { text: 'x' } },
    });
    expect(refused.json).toMatchObject({ error_code: 'auth.forbidden' });
    const missing = await call(gateway, 'GET', '/v1/tasks/no-such-task', { key: BOOTSTRAP });
    expect(missing.json).toMatchObject({ error_code: 'resource.not_found' });

    const gatewayCalls = await clientCalls(`${ops}/metrics`);
    const orchestratorCalls = await clientCalls(orchestratorMetrics);
    expect(gatewayCalls['in_process']).toBeGreaterThan(0);
    expect(orchestratorCalls['in_process']).toBeGreaterThan(0);
    expect(gatewayCalls['network'] ?? 0).toBe(0);
    expect(orchestratorCalls['network'] ?? 0).toBe(0);
  });
});

/**
 * The aion_db_*_total counters, summed over the process's services: all of them, and (`request
 * ...`) those of requests alone, without the services' own loops (relays, syncs, consumers).
 */
async function databaseCounts(): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (const url of serviceMetrics) {
    const text = await (await fetch(url)).text();
    for (const [, name, work, value] of text.matchAll(
      /^aion_db_(statements|round_trips|transactions)_total\{[^}]*work="(\w+)"[^}]*\} (\d+)/gm,
    )) {
      sums[name!] = (sums[name!] ?? 0) + Number(value);
      if (work === 'request')
        sums[`request ${name}`] = (sums[`request ${name}`] ?? 0) + Number(value);
    }
  }
  return sums;
}

/**
 * Commands clients sent the private Redis, by command (what a script runs inside Redis is not a
 * call; nor is the test's own bookkeeping), watched with MONITOR.
 */
async function watchRedis(url: string) {
  const client = new Redis(url);
  const monitor = await client.monitor();
  const calls: Record<string, number> = {};
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const command = String(args[0]).toLowerCase();
    if (source === 'lua' || /^(info|ping|config|client|hello|select)$/.test(command)) return;
    calls[command] = (calls[command] ?? 0) + 1;
  });
  return {
    calls: () => ({ ...calls }),
    close: async () => {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * What one request costs the database and Redis, counted: `n` requests one after another (no
 * batching helps them), less what the process does meanwhile by itself (outbox sweeps, leases),
 * measured over an idle spell first and taken off pro rata.
 */
async function costPerRequest(
  redisCalls: () => Record<string, number>,
  n: number,
  request: () => Promise<void>,
) {
  const counts = async () => {
    const redis = redisCalls();
    const named = Object.fromEntries(Object.entries(redis).map(([k, v]) => [`redis ${k}`, v]));
    return { ...(await databaseCounts()), redis: total(redis), ...named };
  };
  const minus = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! - (b[k] ?? 0)]));
  const idleStart = await counts();
  const idleFrom = Date.now();
  // Several sweep periods (2 s), so that the spell's share of them is not one more or one less.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  const idle = minus(await counts(), idleStart);
  const idleMs = Date.now() - idleFrom;
  const before = await counts();
  const from = Date.now();
  for (let i = 0; i < n; i++) await request();
  const spent = minus(await counts(), before);
  const share = (Date.now() - from) / idleMs;
  return Object.fromEntries(
    Object.entries(spent).map(([k, v]) => [
      k,
      Math.round(((v - idle[k]! * share) / n) * 100) / 100,
    ]),
  );
}

describe('what a request costs on the co-located path, counted rather than timed (issue 14)', () => {
  let watch: Awaited<ReturnType<typeof watchRedis>>;
  beforeAll(async () => {
    watch = await watchRedis(redis.url);
  });
  afterAll(() => watch.close());

  it('a summarize task and a chat completion: one Redis call, two statements, one round trip each for start and finish', async () => {
    const summarize = async () => {
      const done = await call(gateway, 'POST', '/v1/tasks', {
        key: BOOTSTRAP,
        headers: { prefer: 'wait=20' },
        body: {
          intent: 'summarize',
          params: { text: SUMMARY_SOURCE_TEXT, max_sentences: 2 },
          data_context: { jurisdiction: 'DE', classification: 'none' },
        },
      });
      expect(done.json['status']).toBe('OK');
    };
    const chat = async () => {
      const done = await call(gateway, 'POST', '/v1/chat/completions', {
        key: BOOTSTRAP,
        body: { model: 'test-model', messages: [{ role: 'user', content: 'Hi' }] },
      });
      expect(done.status).toBe(200);
    };
    for (let i = 0; i < 3; i++) await Promise.all([summarize(), chat()]); // caches warm
    const perSummarize = await costPerRequest(watch.calls, 40, summarize);
    const perChat = await costPerRequest(watch.calls, 40, chat);
    // eslint-disable-next-line no-console -- the measured costs, next to the guards below
    console.log('cost per request, co-located', { summarize: perSummarize, chat: perChat });
    // Both token buckets in one script; the API key from the cache.
    expect(perSummarize['redis']).toBeLessThanOrEqual(1.05);
    expect(perChat['redis']).toBeLessThanOrEqual(1.05);
    // A task's start and its finish are one statement each (orc_write_tasks, migration 0013), in
    // no transaction of their own: 2 round trips a request; the outbox rows published meanwhile
    // are marked by the next such statement (migration 0015), not by a transaction of their own
    // every 200 ms (measured before: 2.61 round trips a summarize, 0.24 transactions; after:
    // 2.4 and 0.13). What the count adds is timed work of the process, not of the request (the
    // breaker sync, the relay's sweeps, a mark when no write followed), which grows on a slower
    // machine, hence the room; one more statement per task would show as 3+ here.
    expect(perSummarize['transactions']).toBeLessThanOrEqual(0.6);
    expect(perChat['transactions']).toBeLessThanOrEqual(0.6);
    expect(perSummarize['round_trips']).toBeLessThanOrEqual(2.9);
    expect(perChat['round_trips']).toBeLessThanOrEqual(2.9);
    // What the request itself waits for, without the services' own loops (relay sweeps, outbox
    // marks no write took, metrics, the Kafka consumers recording audit and usage): its start and
    // its finish, one round trip each (measured 2.01 and 2.05: a chat re-reads the tenant's
    // budget hint when it is older than a second, one transaction in about 30 chats here).
    expect(perSummarize['request round_trips']).toBeLessThanOrEqual(2.1);
    expect(perChat['request round_trips']).toBeLessThanOrEqual(2.1);
    expect(perSummarize['request transactions']).toBeLessThanOrEqual(0.06);
    expect(perChat['request transactions']).toBeLessThanOrEqual(0.06);
  }, 120_000);
});

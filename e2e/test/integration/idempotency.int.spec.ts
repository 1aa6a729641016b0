import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import {
  distributedEnv,
  eventually,
  httpCall,
  onLoopback,
  startOpenAiTestServer,
  startPlatform,
  startServiceProcess,
  testIdentityProvider,
  uniqueName,
  type OpenAiTestServer,
  type Platform,
  type ServiceProcess,
} from '@aion/testing';

/**
 * Idempotency-Keys outlast what fails between a request and its retry (issue 19, item 4): the
 * gateway's Redis losing every key, the orchestrator or a gateway killed mid-request, another
 * tenant using the same key. Counted in the orchestrator's own table: exactly one task per key.
 */
const idp = testIdentityProvider();
const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-idempotency-'));
const enginesFile = path.join(dir, 'engines.yaml');

let platform: Platform;
let llm: OpenAiTestServer;
let redisServer: ChildProcess;
let redis: Redis;
let redisUrl: string;
let gateway: string;
/** The orchestrator started again by a test, which startPlatform does not know about. */
let restarted: ServiceProcess | undefined;

const chat = (content = 'Hi') => ({
  intent: 'chat',
  params: { messages: [{ role: 'user', content }] },
  sla: { privacy: 'allow-api' },
  data_context: { jurisdiction: 'US', classification: 'none' },
});

/** A developer of a tenant of its own, through the identity provider. */
const developer = async (tenantId = uniqueName('idem-tenant'), subject = 'alice') => ({
  tenantId,
  token: await idp.sign({ subject, tenantId, roles: ['developer'] }),
});

const submit = (token: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
  httpCall(gateway, 'POST', '/v1/tasks', {
    key: token,
    body,
    headers: { 'idempotency-key': key, ...headers },
  });

const tasksOf = (tenantId: string) =>
  platform.db.queryAsOwner<{ id: string; status: string }>(
    'select id, status from orc_tasks where tenant_id = $1',
    [tenantId],
  );

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  // A Redis of this suite's own: FLUSHALL on the shared one would disturb every other suite.
  const redisPort = await freePort();
  redisServer = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  redisUrl = `redis://127.0.0.1:${redisPort}`;
  redis = new Redis({ port: redisPort, host: '127.0.0.1', maxRetriesPerRequest: 20 });
  await redis.ping();
  llm = await startOpenAiTestServer({ reply: 'one two three' });
  writeFileSync(
    enginesFile,
    `engines:
  - { name: test-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${llm.url}", models: [test-model], intents: [chat], jurisdiction: US, region: us, price_per_1k_tokens: { input: 0.001, output: 0.002 } }
`,
  );
  platform = await startPlatform({
    database: 'e2eidem',
    engines: '',
    orchestrator: { AION_ORCHESTRATOR_ENGINES_FILE: enginesFile },
    gateways: [{ REDIS_URL: redisUrl, ...idp.gatewayEnv }],
  });
  gateway = `http://127.0.0.1:${platform.gateways[0]!.httpPort}`;
}, 240_000);

afterAll(async () => {
  restarted?.kill('SIGTERM');
  await restarted?.exited;
  await platform?.stop();
  await llm?.close();
  redis?.disconnect();
  redisServer?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('Idempotency-Key survives failures', () => {
  it('finds the original task after Redis lost every key', async () => {
    const { tenantId, token } = await developer();
    const key = uniqueName('flushed');
    const first = await submit(token, key, chat());
    expect(first.status).toBe(202);
    const chatKey = uniqueName('flushed-chat');
    const completion = () =>
      httpCall(gateway, 'POST', '/v1/chat/completions', {
        key: token,
        body: { model: 'test-model', messages: [{ role: 'user', content: 'Hi' }] },
        headers: { 'idempotency-key': chatKey, 'aion-privacy': 'allow-api' },
      });
    const completed = await completion();
    expect(completed.status).toBe(200);
    // Everything the gateway kept in Redis is gone, as after a restart without persistence.
    await redis.flushall();
    const again = await submit(token, key, chat());
    expect(again.status).toBe(first.status);
    expect(again.json['task_id']).toBe(first.json['task_id']);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const completedAgain = await completion();
    expect(completedAgain.json['id']).toBe(completed.json['id']);
    expect(completedAgain.headers.get('aion-task-id')).toBe(completed.headers.get('aion-task-id'));
    // One task per key, none started by the repeats.
    expect((await tasksOf(tenantId)).map((t) => t.id).sort()).toEqual(
      [first.json['task_id'], completed.headers.get('aion-task-id')].sort(),
    );
  });

  it('finds the task a 5xx answer left behind: the orchestrator killed mid-request', async () => {
    const { tenantId, token } = await developer();
    const key = uniqueName('killed');
    // The model takes long enough for the task to be running when the orchestrator dies.
    llm.behave({ delayMs: 8_000 });
    const pending = submit(token, key, chat(), { prefer: 'wait=30' });
    const [created] = await eventually(async () => {
      const rows = await tasksOf(tenantId);
      if (rows.length !== 1) throw new Error('the task is not stored yet');
      return rows;
    });
    const { orchestrator } = platform;
    orchestrator.kill('SIGKILL');
    await orchestrator.exited;
    const failed = await pending;
    expect(failed.status).toBeGreaterThanOrEqual(500);
    llm.behave({ delayMs: 0 });
    // The same orchestrator again, on the port the gateway calls.
    restarted = await startServiceProcess('orchestrator', {
      ...distributedEnv(platform.db, platform.internalTokenSecret),
      AION_BOOTSTRAP_TENANT: platform.bootstrapTenant,
      ...onLoopback('AION_ORCHESTRATOR_'),
      AION_ORCHESTRATOR_GRPC_PORT: String(orchestrator.grpcPort),
      AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: `127.0.0.1:${platform.moduleHost.grpcPort}`,
      AION_ORCHESTRATOR_SOVEREIGN_ADDRESS: `127.0.0.1:${platform.sovereignAi.grpcPort}`,
      AION_ORCHESTRATOR_SOVEREIGN_GROUP_PREFIX: uniqueName('orc-sov'),
      AION_ORCHESTRATOR_DLQ_CONSUMER_GROUP: uniqueName('dlq-recorder'),
      AION_ORCHESTRATOR_AUDIT_CONSUMER_GROUP: uniqueName('audit-recorder'),
      AION_ORCHESTRATOR_ENGINES_FILE: enginesFile,
    });
    // The client retries with the same key until the gateway reaches the orchestrator again.
    const retried = await eventually(
      async () => {
        const answer = await submit(token, key, chat());
        if (answer.status >= 500) throw new Error(`still ${answer.status}`);
        return answer;
      },
      30_000,
      250,
    );
    expect(retried.status).toBeLessThan(300);
    expect(retried.json['task_id']).toBe(created!.id);
    expect(retried.json['deduplicated']).toBe(true);
    expect((await tasksOf(tenantId)).map((t) => t.id)).toEqual([created!.id]);
  }, 120_000);

  it('finds the task of a gateway that died mid-request, through another gateway', async () => {
    const { tenantId, token } = await developer();
    const key = uniqueName('gateway-died');
    const doomed = await startServiceProcess('gateway', {
      ...distributedEnv(platform.db, platform.internalTokenSecret),
      AION_BOOTSTRAP_TENANT: platform.bootstrapTenant,
      ...onLoopback('AION_GATEWAY_'),
      AION_GATEWAY_OPS_PORT: '0',
      AION_GATEWAY_ORCHESTRATOR_ADDRESS: `127.0.0.1:${platform.orchestrator.grpcPort}`,
      AION_GATEWAY_SOVEREIGN_ADDRESS: `127.0.0.1:${platform.sovereignAi.grpcPort}`,
      REDIS_URL: redisUrl,
      ...idp.gatewayEnv,
    });
    try {
      llm.behave({ delayMs: 8_000 });
      const pending = httpCall(`http://127.0.0.1:${doomed.httpPort}`, 'POST', '/v1/tasks', {
        key: token,
        body: chat(),
        headers: { 'idempotency-key': key, prefer: 'wait=30' },
      }).catch((err: unknown) => err);
      const [created] = await eventually(async () => {
        const rows = await tasksOf(tenantId);
        if (rows.length !== 1) throw new Error('the task is not stored yet');
        return rows;
      });
      doomed.kill('SIGKILL');
      await doomed.exited;
      // The client lost the connection: no answer at all (fetch's TypeError, of another realm).
      expect(await pending).toHaveProperty('message', expect.stringMatching(/fetch failed/));
      // No 409 while the dead gateway's claim lingers: the retry submits the same task id.
      const retried = await submit(token, key, chat());
      expect(retried.status).toBe(202);
      expect(retried.json['task_id']).toBe(created!.id);
      expect(retried.json['deduplicated']).toBe(true);
      expect((await tasksOf(tenantId)).map((t) => t.id)).toEqual([created!.id]);
    } finally {
      llm.behave({ delayMs: 0 });
      doomed.kill('SIGKILL');
    }
  }, 120_000);

  it('refuses the same key with another payload (422), and gives another tenant its own task', async () => {
    const key = uniqueName('shared');
    const mine = await developer();
    const theirs = await developer();
    const first = await submit(mine.token, key, chat('first'));
    expect(first.status).toBe(202);
    const other = await submit(mine.token, key, chat('something else'));
    expect(other.status).toBe(422);
    expect(other.json['error_code']).toBe('validation.idempotency_key_reused');
    // The same subject name and key in another tenant is another client's request.
    const theirFirst = await submit(theirs.token, key, chat('something else'));
    expect(theirFirst.status).toBe(202);
    expect(theirFirst.json['task_id']).not.toBe(first.json['task_id']);
    expect(theirFirst.json['deduplicated']).toBe(false);
    expect((await tasksOf(mine.tenantId)).map((t) => t.id)).toEqual([first.json['task_id']]);
    expect((await tasksOf(theirs.tenantId)).map((t) => t.id)).toEqual([theirFirst.json['task_id']]);
  });
});

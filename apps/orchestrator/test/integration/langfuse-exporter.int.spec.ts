import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openPostgres } from '@aion/db';
import { OutboxWriter } from '@aion/events';
import { BreakerRegistry } from '@aion/resilience';
import { createTestDatabase } from '@aion/testing';
import {
  LangfuseExporter,
  LangfuseExporters,
  type LangfuseEvent,
} from '../../src/adapters/langfuse/langfuse-exporter';
import {
  configuredDecisions,
  traceLlmTasks,
  type DecideLlmTrace,
} from '../../src/adapters/langfuse/llm-tracing';
import { PostgresBudgets } from '../../src/adapters/db/budget-repository';
import { outbox } from '../../src/adapters/db/schema';
import { PostgresTaskRepository } from '../../src/adapters/db/task-repository';
import { countsAgainstEngine } from '../../src/core/engine-health';
import { parseEngines } from '../../src/core/engines';
import { LatencyWindows } from '../../src/core/latency';
import { TaskService } from '../../src/core/task-service';
import { as, jurisdictions, migrate, openResidency, ScriptedEngines } from './support/replica';

// Langfuse's server cannot run here (it needs ClickHouse): this is a local HTTP stand-in for
// its batch ingestion API, which checks the documented request shape (POST
// /api/public/ingestion, Basic auth with the project's public and secret keys, a JSON body
// {batch: [{id, timestamp, type, body}]}) and answers as Langfuse documents: 207 with each
// event's outcome (successes, errors with a status), or a status for the whole batch.

interface Received {
  auth: string | undefined;
  batch: LangfuseEvent[];
}

let server: Server;
let url: string;
const received: Received[] = [];
/** How the stand-in answers an event (by id): a status, 201 by default. */
const verdicts = new Map<string, number>();
let wholeBatch: number | undefined;
/** The projects' keys the stand-in knows (public:secret); any other gets 401. */
const PROJECTS = new Set(['pk-lf:sk-lf', 'pk-other:sk-other']);

const body = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => resolve(text));
  });

beforeAll(async () => {
  server = createServer((req, res) => {
    void body(req).then((text) => {
      const shapeOk =
        req.method === 'POST' &&
        req.url === '/api/public/ingestion' &&
        req.headers['content-type'] === 'application/json';
      const parsed = JSON.parse(text) as { batch?: LangfuseEvent[] };
      const batch = parsed.batch ?? [];
      const eventsOk = batch.every(
        (e) =>
          typeof e.id === 'string' &&
          !Number.isNaN(Date.parse(e.timestamp)) &&
          ['trace-create', 'generation-create'].includes(e.type) &&
          typeof e.body === 'object',
      );
      received.push({ auth: req.headers.authorization, batch });
      if (!shapeOk || !eventsOk || !Array.isArray(parsed.batch)) {
        res.writeHead(400).end('{"message":"bad request"}');
        return;
      }
      if (
        !PROJECTS.has(Buffer.from(req.headers.authorization?.slice(6) ?? '', 'base64').toString())
      ) {
        res.writeHead(401).end('{"message":"unauthorized"}');
        return;
      }
      if (wholeBatch) {
        res.writeHead(wholeBatch).end('{}');
        return;
      }
      const successes: { id: string; status: number }[] = [];
      const errors: { id: string; status: number; message: string }[] = [];
      for (const e of batch) {
        const status = verdicts.get(e.id) ?? 201;
        if (status < 300) successes.push({ id: e.id, status });
        else errors.push({ id: e.id, status, message: `status ${status}` });
      }
      res.writeHead(207, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ successes, errors }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((r) => server.close(r)));

beforeEach(() => {
  received.length = 0;
  verdicts.clear();
  wholeBatch = undefined;
});

const event = (extra = ''): LangfuseEvent => ({
  id: randomUUID(),
  timestamp: new Date().toISOString(),
  type: 'generation-create',
  body: { id: randomUUID(), traceId: randomUUID(), model: 'gpt', input: extra },
});

const exporter = (options: ConstructorParameters<typeof LangfuseExporter>[1] = {}) =>
  new LangfuseExporter({ url, publicKey: 'pk-lf', secretKey: 'sk-lf' }, options);

describe('LangfuseExporter against a stand-in of the ingestion API', () => {
  it('sends batches of at most the configured events and bytes, with the project keys', async () => {
    const e = exporter({ maxBatchEvents: 100, maxBatchBytes: 50_000 });
    e.enqueue(...Array.from({ length: 250 }, () => event()));
    await e.flush();
    expect(received.map((r) => r.batch.length)).toEqual([100, 100, 50]);
    expect(received.every((r) => r.auth === received[0]!.auth)).toBe(true);
    // Three events of 20 kB each: two fit under 50 kB, the third goes in the next batch.
    e.enqueue(event('x'.repeat(20_000)), event('y'.repeat(20_000)), event('z'.repeat(20_000)));
    await e.flush();
    expect(received.slice(3).map((r) => r.batch.length)).toEqual([2, 1]);
    expect([e.pending, e.dropped]).toEqual([0, 0]);
  });

  it('on 207 tries again only what Langfuse failed on (5xx), and drops what it refused (4xx)', async () => {
    const e = exporter({ maxAttempts: 2 });
    const [ok, flaky, refused, broken] = [event(), event(), event(), event()];
    verdicts.set(flaky!.id, 500);
    verdicts.set(refused!.id, 400);
    verdicts.set(broken!.id, 503);
    e.enqueue(ok!, flaky!, refused!, broken!);
    await e.flush();
    expect([e.pending, e.dropped]).toEqual([2, 1]);
    verdicts.delete(flaky!.id);
    await e.flush();
    expect(received[1]!.batch.map((x) => x.id)).toEqual([flaky!.id, broken!.id]);
    // The broken one failed its second try as well: out of tries, dropped.
    expect([e.pending, e.dropped]).toEqual([0, 2]);
  });

  it('keeps a batch through an outage or a 5xx, drops it on bad keys, and never throws', async () => {
    const e = exporter({ maxAttempts: 3 });
    e.enqueue(event(), event());
    wholeBatch = 502;
    await e.flush();
    expect(e.pending).toBe(2);
    const down = new LangfuseExporter(
      { url: 'http://127.0.0.1:9', publicKey: 'pk-lf', secretKey: 'sk-lf' },
      { timeoutMs: 1_000 },
    );
    down.enqueue(event());
    await expect(down.flush()).resolves.toBeUndefined();
    expect(down.pending).toBe(1);
    wholeBatch = undefined;
    await e.flush();
    expect([e.pending, e.dropped]).toEqual([0, 0]);

    const wrongKeys = new LangfuseExporter({ url, publicKey: 'pk-lf', secretKey: 'nope' });
    wrongKeys.enqueue(event());
    await wrongKeys.flush();
    expect([wrongKeys.pending, wrongKeys.dropped]).toEqual([0, 1]);
  });

  it('bounds its queue, oldest dropped first', async () => {
    const e = exporter({ maxQueue: 3 });
    const events = Array.from({ length: 5 }, () => event());
    e.enqueue(...events);
    expect([e.pending, e.dropped]).toEqual([3, 2]);
    await e.flush();
    expect(received[0]!.batch.map((x) => x.id)).toEqual(events.slice(2).map((x) => x.id));
  });
});

describe('LLM tasks traced through the exporter', () => {
  it("traces each tenant's finished chat task to the deployment its decision names, masked as decided, and no other tenant's", async () => {
    const testDb = await createTestDatabase('langfuse');
    await migrate(testDb);
    const database = openPostgres({ url: testDb.appUrl, max: 4 });
    try {
      const engines = parseEngines(
        `
engines:
  - { name: eu-api, tier: cloud-standard, kind: openai-compatible, endpoint: "http://127.0.0.1:9/v1", models: [m], intents: [chat], jurisdiction: DE, region: eu-central, price_per_1k_tokens: { input: 0, output: 0 } }
`,
        jurisdictions,
      );
      const budgets = new PostgresBudgets(database.db);
      const repository = new PostgresTaskRepository(
        database.db,
        new OutboxWriter(outbox, 'aion/orchestrator-test'),
        { remainingBudgets: budgets.remainingCache },
      );
      const exporters = new LangfuseExporters();
      // 'traced' by the configured deployment; 'own' by its own project (as the observability
      // service decides per tenant), masked; 'untraced' not at all.
      const configured = configuredDecisions({
        tenants: new Set(['traced']),
        jurisdiction: 'DE',
        jurisdictions,
        target: { url, publicKey: 'pk-lf', secretKey: 'sk-lf' },
      });
      const decide: DecideLlmTrace = async (record) =>
        record.tenantId === 'own'
          ? {
              send: true,
              mask: true,
              target: { url, publicKey: 'pk-other', secretKey: 'sk-other' },
            }
          : configured(record);
      traceLlmTasks(repository, { engines, decide, exporterFor: (t) => exporters.for(t) });
      const tasks = new TaskService({
        repository,
        budgets,
        executor: new ScriptedEngines(),
        residency: openResidency,
        jurisdictions,
        engines,
        policies: {},
        latency: new LatencyWindows(),
        breakers: new BreakerRegistry({ consecutiveFailures: 5, isFailure: countsAgainstEngine }),
        taskTimeoutMs: 20_000,
        streamPollMs: 20,
      });
      const chat = (tenantId: string, id: string) =>
        as(tenantId, async () => {
          const { record } = await tasks.submit({
            schema_version: '1.0',
            task_id: id,
            intent: 'chat',
            params: { messages: [{ role: 'user', content: 'Hi' }] },
            priority: 'normal',
            sla: { budget_usd: 0, p95_ms: 0, privacy: 'allow-api' },
            metadata: {},
            data_context: { jurisdiction: 'DE', classification: 'none' },
            project_id: '',
          });
          return tasks.awaitEnd(record, 15_000, new AbortController().signal);
        });
      received.length = 0;
      expect((await chat('traced', 'lf-1')).status).toBe('OK');
      expect((await chat('untraced', 'lf-2')).status).toBe('OK');
      expect((await chat('own', 'lf-3')).status).toBe('OK');
      // Decided after the task ended: give the decisions a moment, then send.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await exporters.stop();
      const basic = (keys: string) => `Basic ${Buffer.from(keys).toString('base64')}`;
      const own = received.filter((r) => r.auth === basic('pk-other:sk-other'));
      expect(own.flatMap((r) => r.batch)[1]!.body).toMatchObject({
        input: { masked: 'none', bytes: expect.any(Number) },
        metadata: { tenant_id: 'own', task_id: 'lf-3' },
      });
      const events = received
        .filter((r) => r.auth === basic('pk-lf:sk-lf'))
        .flatMap((r) => r.batch);
      expect(events.map((x) => x.type)).toEqual(['trace-create', 'generation-create']);
      expect(events[1]!.body).toMatchObject({
        name: 'eu-api',
        model: 'eu-api',
        usage: { input: 1, output: 1, total: 2, unit: 'TOKENS' },
        input: { messages: [{ role: 'user', content: 'Hi' }] },
        metadata: { tenant_id: 'traced', task_id: 'lf-1' },
      });
    } finally {
      await database.close();
      await testDb.drop();
    }
  }, 60_000);
});

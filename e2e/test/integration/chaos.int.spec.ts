import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  httpCall,
  sampleModule,
  SAMPLE_MODULES_DIR,
  startOpenAiTestServer,
  startPlatform,
  startPrivateStack,
  testIdentityProvider,
  uniqueName,
  type OpenAiTestServer,
  type Platform,
  type PrivateStack,
  type RestartableServer,
  type ServiceProcess,
} from '@aion/testing';
import { LOCAL_SUMMARIZE_ENGINE, SUMMARY_SOURCE_TEXT } from '../support/fixtures';

/**
 * The chaos suite (issue 19): the distributed platform (gateway, orchestrator, sovereign-ai,
 * module-host as processes) on PostgreSQL, Redis and Kafka of its own, under bounded load, while
 * each dependency is stopped and started again and each service is SIGKILLed and restarted, with
 * short engine calls and with calls of seconds. Every case keeps the same books (printed as a
 * table and written to AION_CHAOS_REPORT, default <tmp>/aion-chaos-report.md):
 *
 * - accepted (the client got 202) vs not accepted (it gave up after REQUEST_DEADLINE_MS);
 * - accepted tasks never terminal (OK, ERROR, TIMEOUT, CANCELED) after the case: must be 0;
 * - orc_outbox against Kafka, by event id, over the case's tenant: an outbox event id that no
 *   Kafka record carries is missing (must be 0, as must events left unpublished); a second record
 *   of the same event id is a redelivery, which at-least-once allows (consumers dedupe by event
 *   id): counted and reported, not failed;
 * - answers by phase (before the fault, during it, after recovery): every refusal is 503 or 429
 *   with Retry-After (a lost connection only when the gateway itself was killed), never a 500;
 * - tasks a key created beyond its first (every request retries with its own Idempotency-Key on
 *   503/429/lost connection, and keys accepted before the fault are replayed after it): must be 0;
 * - processes that had to be restarted by hand (exited, or not ready, without the case having
 *   killed them): must be 0;
 * - time from recovery to the first success of a request sent after it.
 *
 * The servers are private because stopping the shared ones would break every suite beside this.
 */

const BEFORE_MS = 4_000;
const OUTAGE_MS = 10_000;
const AFTER_MS = 8_000;
/** A client gives a request up this long after its first attempt. */
const REQUEST_DEADLINE_MS = 40_000;
/** Longest wait for accepted tasks to end; tasks of a killed orchestrator end at timeout + stale. */
const TERMINAL_WAIT_MS = 45_000;
const TASK_TIMEOUT_MS = 15_000;
const LLM_DELAY_MS = 3_000;
const MODULE_WAIT_MS = 1_500;
const TERMINAL = ['OK', 'ERROR', 'TIMEOUT', 'CANCELED'];
const REPORT_FILE =
  process.env['AION_CHAOS_REPORT'] ?? path.join(os.tmpdir(), 'aion-chaos-report.md');

type Workload = 'short' | 'llm' | 'module';
/** Requests per second each workload sends: bounded, and within what one module worker runs. */
const RATE: Record<Workload, number> = { short: 10, llm: 5, module: 0.5 };

type ServiceName = 'gateway' | 'orchestrator' | 'sovereign-ai' | 'module-host';
type Fault = { stop: 'postgres' | 'redis' | 'kafka' } | { kill: ServiceName };
interface ChaosCase {
  name: string;
  fault: Fault;
  workload: Workload;
}

const CASES: ChaosCase[] = [
  { name: 'Kafka stopped 10 s', fault: { stop: 'kafka' }, workload: 'short' },
  { name: 'Redis stopped 10 s', fault: { stop: 'redis' }, workload: 'short' },
  { name: 'PostgreSQL stopped 10 s', fault: { stop: 'postgres' }, workload: 'short' },
  { name: 'PostgreSQL stopped 10 s, 3 s engine', fault: { stop: 'postgres' }, workload: 'llm' },
  { name: 'gateway SIGKILL', fault: { kill: 'gateway' }, workload: 'short' },
  { name: 'orchestrator SIGKILL', fault: { kill: 'orchestrator' }, workload: 'short' },
  { name: 'orchestrator SIGKILL, 3 s engine', fault: { kill: 'orchestrator' }, workload: 'llm' },
  { name: 'sovereign-ai SIGKILL', fault: { kill: 'sovereign-ai' }, workload: 'short' },
  { name: 'module-host SIGKILL', fault: { kill: 'module-host' }, workload: 'short' },
  {
    name: 'module-host SIGKILL, 1.5 s module',
    fault: { kill: 'module-host' },
    workload: 'module',
  },
];

type Phase = 'before' | 'during' | 'after';
interface Attempt {
  phase: Phase;
  started: number;
  ended: number;
  /** The HTTP status, or 'conn' for a connection lost or refused. */
  status: number | 'conn';
  retryAfter: string | null;
  errorCode?: string;
  message?: string;
}
interface ClientRequest {
  key: string;
  attempts: Attempt[];
  taskId?: string;
}

interface Row {
  case: string;
  sent: number;
  accepted: number;
  notAccepted: number;
  neverTerminal: number;
  /** Accepted tasks that ended `task.lost`: their outcome was thrown away. */
  lost: number;
  outcomes: string;
  inFlightAtFault: number;
  outboxEvents: number;
  unpublished: number;
  missing: number;
  redeliveries: number;
  phases: Record<Phase, string>;
  badAnswers: number;
  secondTasks: number;
  replayed: number;
  handRestarts: number;
  firstSuccessMs: number | null;
  /** From recovery to the first task sent after it that ended OK (its answer, not just 202). */
  firstOkTaskMs: number | null;
}

const idp = testIdentityProvider();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-chaos-'));
let stack: PrivateStack;
let platform: Platform;
let llm: OpenAiTestServer;
const rows: Row[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The chaos_wait test module (e2e/test/support/chaos-wait), built as the sample modules are. */
function buildWaitModule(): string {
  const dir = path.join(scratch, 'chaos_wait');
  cpSync(path.join(__dirname, '..', 'support', 'chaos-wait'), dir, { recursive: true });
  mkdirSync(path.join(dir, 'build'), { recursive: true });
  const common = path.join(SAMPLE_MODULES_DIR, 'common');
  execFileSync(
    'clang',
    [
      '--target=wasm32-wasi',
      '-O1',
      '-std=c11',
      '-D_GNU_SOURCE',
      '-I',
      common,
      `-Wl,--max-memory=${16 * 1024 * 1024}`,
      '-o',
      path.join(dir, 'build', 'chaos_wait.wasm'),
      path.join(dir, 'src', 'main.c'),
      path.join(common, 'aion_module.c'),
    ],
    { stdio: 'pipe' },
  );
  return dir;
}

beforeAll(async () => {
  const waitModule = buildWaitModule();
  llm = await startOpenAiTestServer({ reply: 'A steady answer.', delayMs: LLM_DELAY_MS });
  stack = await startPrivateStack();
  platform = await startPlatform({
    database: 'chaos',
    infra: stack.infra,
    engines: `engines:
${LOCAL_SUMMARIZE_ENGINE}
  - { name: chaos-wait, tier: local, kind: module, module: chaos_wait, intents: [chaos_wait], jurisdiction: DE, region: local, price_per_1k_tokens: { input: 0, output: 0 } }
  - { name: slow-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${llm.url}", models: [test-model], intents: [chat], jurisdiction: US, region: us, price_per_1k_tokens: { input: 0, output: 0 } }
`,
    modules: [],
    moduleHost: {
      AION_MODULE_HOST_PRELOAD: [sampleModule('summarize_text'), waitModule].join(','),
      // chaos_wait spins: one worker keeps the suite to about one core on a shared machine.
      AION_MODULE_HOST_WORKERS: '1',
    },
    orchestrator: {
      AION_ORCHESTRATOR_TASK_TIMEOUT_MS: String(TASK_TIMEOUT_MS),
      AION_ORCHESTRATOR_STALE_TASK_AFTER_MS: '3000',
      AION_ORCHESTRATOR_REAPER_INTERVAL_MS: '1000',
      // An engine's breaker opens when module-host dies; its trial call comes within the case's
      // after-phase (the default waits 10 s, longer than that phase).
      AION_ORCHESTRATOR_BREAKER_HALF_OPEN_MS: '3000',
    },
    gateways: [
      {
        ...idp.gatewayEnv,
        // The load is bounded by the suite; the gateway's own limits are not what is tested.
        AION_GATEWAY_RATE_LIMIT_KEY_PER_MINUTE: '100000',
        AION_GATEWAY_RATE_LIMIT_KEY_BURST: '10000',
        AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE: '100000',
      },
    ],
  });
}, 300_000);

afterAll(async () => {
  const table = renderTable(rows);
  // eslint-disable-next-line no-console -- the table is this suite's report
  console.log(`chaos suite (report: ${REPORT_FILE})\n${table}`);
  writeFileSync(REPORT_FILE, `${table}\n`);
  writeFileSync(REPORT_FILE.replace(/\.md$/, '') + '.json', JSON.stringify(rows, null, 2));
  await platform?.stop();
  await stack?.close();
  await llm?.close();
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

function serviceOf(name: ServiceName): ServiceProcess {
  if (name === 'gateway') return platform.gateways[0]!;
  if (name === 'orchestrator') return platform.orchestrator;
  if (name === 'sovereign-ai') return platform.sovereignAi;
  return platform.moduleHost;
}
const gatewayUrl = () => `http://127.0.0.1:${platform.gateways[0]!.httpPort}`;

function bodyOf(workload: Workload, key: string): Record<string, unknown> {
  // The key is in the request, so the orchestrator's own rows show which key made each task.
  if (workload === 'short')
    return {
      intent: 'summarize',
      params: { text: `${SUMMARY_SOURCE_TEXT} Ticket ${key} is open.`, max_sentences: 2 },
      data_context: { jurisdiction: 'DE', classification: 'pii' },
    };
  if (workload === 'module')
    return {
      intent: 'chaos_wait',
      params: { ms: MODULE_WAIT_MS, tag: key },
      data_context: { jurisdiction: 'DE', classification: 'none' },
    };
  return {
    intent: 'chat',
    params: { messages: [{ role: 'user', content: `Ticket ${key}` }] },
    sla: { privacy: 'allow-api' },
    data_context: { jurisdiction: 'US', classification: 'none' },
  };
}

/** One client request: retries with its own key on 503, 429 and a lost connection, as told. */
async function request(
  key: string,
  body: unknown,
  token: string,
  phaseAt: (t: number) => Phase,
): Promise<ClientRequest> {
  const record: ClientRequest = { key, attempts: [] };
  const deadline = Date.now() + REQUEST_DEADLINE_MS;
  for (;;) {
    const started = Date.now();
    let attempt: Attempt;
    let body202: Record<string, unknown> | undefined;
    try {
      const res = await httpCall(gatewayUrl(), 'POST', '/v1/tasks', {
        key: token,
        body,
        headers: { 'idempotency-key': key },
      });
      attempt = {
        phase: phaseAt(started),
        started,
        ended: Date.now(),
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        ...(res.status >= 300
          ? { errorCode: String(res.json['error_code']), message: String(res.json['message']) }
          : {}),
      };
      if (res.status < 300) body202 = res.json;
    } catch (err) {
      attempt = {
        phase: phaseAt(started),
        started,
        ended: Date.now(),
        status: 'conn',
        retryAfter: null,
        message: err instanceof Error ? err.message : String(err),
      };
    }
    record.attempts.push(attempt);
    if (body202) {
      record.taskId = String(body202['task_id']);
      return record;
    }
    const retryable = attempt.status === 503 || attempt.status === 429 || attempt.status === 'conn';
    if (!retryable || Date.now() > deadline) return record;
    const wait =
      attempt.status === 'conn'
        ? 500
        : Math.min(Number(attempt.retryAfter ?? 1) * 1000 || 1000, 2_000);
    await sleep(wait + Math.random() * 250);
  }
}

interface Window {
  faultAt: number;
  recoveredAt: number;
}

async function injectFault(fault: Fault, window: Partial<Window>): Promise<void> {
  window.faultAt = Date.now();
  if ('stop' in fault) {
    const server: RestartableServer = stack[fault.stop];
    await server.stop();
    await sleep(OUTAGE_MS);
    await server.start();
  } else {
    const service = serviceOf(fault.kill);
    service.kill('SIGKILL');
    await service.exited;
    await platform.restart(service);
  }
  window.recoveredAt = Date.now();
}

/** Services that exited or stay unready although the case did not touch them; restarts them. */
async function restartByHand(): Promise<number> {
  let restarted = 0;
  for (const name of ['module-host', 'sovereign-ai', 'orchestrator', 'gateway'] as const) {
    const service = serviceOf(name);
    const alive = service.child.exitCode === null && service.child.signalCode === null;
    const ready = alive && (await readyWithin(service, 15_000));
    if (ready) continue;
    restarted += 1;
    // eslint-disable-next-line no-console -- why a case failed, next to its table
    console.error(
      `chaos: ${name} ${alive ? 'never became ready' : 'exited'}; last logs: ${JSON.stringify(service.logs.slice(-8))}`,
    );
    if (alive) {
      service.kill('SIGKILL');
      await service.exited;
    }
    await platform.restart(service);
  }
  return restarted;
}

async function readyWithin(service: ServiceProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${service.opsPort}/readyz`, {
      signal: AbortSignal.timeout(2_000),
    }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return true;
    await sleep(250);
  }
  return false;
}

/** Every record of these topics now in Kafka that carries the tenant: count per event id. */
async function kafkaEventCounts(topics: string[], tenantId: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (topics.length === 0) return counts;
  const kafka = new Kafka({
    brokers: stack.infra.kafkaBrokers.split(','),
    clientId: 'aion-chaos-audit',
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<string, bigint>();
  try {
    for (const topic of topics)
      for (const p of await admin.fetchTopicOffsets(topic))
        if (BigInt(p.high) > BigInt(p.low))
          remaining.set(`${topic}:${p.partition}`, BigInt(p.high) - 1n);
  } finally {
    await admin.disconnect();
  }
  if (remaining.size === 0) return counts;
  const consumer = kafka.consumer({ groupId: uniqueName('chaos-audit') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Kafka read incomplete: ${[...remaining.keys()].join(', ')}`)),
        60_000,
      );
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          if (message.headers?.['x-aion-tenant-id']?.toString() === tenantId) {
            const id = message.headers['aion-event-id']?.toString() ?? '';
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
          const last = remaining.get(`${topic}:${partition}`);
          if (last !== undefined && BigInt(message.offset) >= last) {
            remaining.delete(`${topic}:${partition}`);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return counts;
}

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms: number) {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await sleep(500);
    value = await probe();
  }
  return value;
}

const tally = (attempts: Attempt[]) => {
  const counts = new Map<string, number>();
  for (const a of attempts) counts.set(String(a.status), (counts.get(String(a.status)) ?? 0) + 1);
  return (
    [...counts.entries()]
      .sort()
      .map(([s, n]) => `${s}×${n}`)
      .join(' ') || '-'
  );
};

async function runCase(chaos: ChaosCase): Promise<{ row: Row; bad: Attempt[] }> {
  const tenantId = uniqueName('chaos');
  const token = await idp.sign({
    subject: 'load',
    tenantId,
    roles: ['developer'],
    expiresIn: '30m',
  });
  const tag = `chaoskey_${rows.length}_${Math.random().toString(36).slice(2, 8)}`;
  const window: Partial<Window> = {};
  const phaseAt = (t: number): Phase =>
    window.faultAt === undefined || t < window.faultAt
      ? 'before'
      : window.recoveredAt === undefined || t < window.recoveredAt
        ? 'during'
        : 'after';

  const requests: Promise<ClientRequest>[] = [];
  let stopLoad = false;
  const interval = 1000 / RATE[chaos.workload];
  const load = (async () => {
    const start = Date.now();
    for (let i = 0; !stopLoad; i += 1) {
      const key = `${tag}_${i}`;
      requests.push(request(key, bodyOf(chaos.workload, key), token, phaseAt));
      await sleep(Math.max(0, start + (i + 1) * interval - Date.now()));
    }
  })();

  await sleep(BEFORE_MS);
  const running = async () =>
    Number(
      (
        await platform.db.queryAsOwner<{ n: string }>(
          `select count(*) as n from orc_tasks where tenant_id = $1 and status in ('QUEUED', 'ROUTED', 'RUNNING')`,
          [tenantId],
        )
      )[0]!.n,
    );
  // Long calls: strike while one runs, so the fault cuts work in flight.
  const inFlightAtFault =
    chaos.workload === 'short' ? await running() : await until(running, (n) => n > 0, 10_000);
  await injectFault(chaos.fault, window);
  await sleep(AFTER_MS);
  stopLoad = true;
  await load;
  const settled = await Promise.all(requests);
  const { recoveredAt } = window as Window;

  // Keys accepted before the fault, sent again after it: each must find its original task.
  const before = settled.filter((r) => r.taskId && r.attempts[0]!.phase === 'before').slice(0, 20);
  const replays = await Promise.all(
    before.map((r) => request(r.key, bodyOf(chaos.workload, r.key), token, phaseAt)),
  );
  const replayMismatches = replays.filter(
    (r, i) => r.taskId !== undefined && r.taskId !== before[i]!.taskId,
  ).length;

  const accepted = settled.filter((r) => r.taskId);
  const acceptedIds = accepted.map((r) => r.taskId!);
  const statuses = await until(
    () =>
      platform.db.queryAsOwner<{
        id: string;
        status: string;
        key: string | null;
        code: string | null;
      }>(
        `select id, status, substring(request::text from '${tag}_[0-9]+') as key,
                error->>'code' as code
         from orc_tasks where tenant_id = $1`,
        [tenantId],
      ),
    (tasks) => {
      const byId = new Map(tasks.map((t) => [t.id, t.status]));
      return acceptedIds.every((id) => TERMINAL.includes(byId.get(id) ?? ''));
    },
    TERMINAL_WAIT_MS,
  );
  const taskById = new Map(statuses.map((t) => [t.id, t]));
  const neverTerminal = acceptedIds.filter(
    (id) => !TERMINAL.includes(taskById.get(id)?.status ?? ''),
  );
  const outcomes = new Map<string, number>();
  for (const id of acceptedIds) {
    const task = taskById.get(id);
    const s = task ? `${task.status}${task.code ? ` ${task.code}` : ''}` : 'absent';
    outcomes.set(s, (outcomes.get(s) ?? 0) + 1);
  }
  // The first request sent after recovery whose task ended OK, timed by when it was sent.
  const firstOk = settled
    .filter((r) => r.taskId && taskById.get(r.taskId)?.status === 'OK')
    .map((r) => r.attempts[r.attempts.length - 1]!)
    .filter((a) => a.started >= recoveredAt)
    .reduce((min, a) => Math.min(min, a.started), Infinity);
  // More than one task under a key, or a key's task other than the one its client was given.
  const tasksPerKey = new Map<string, number>();
  for (const t of statuses) tasksPerKey.set(t.key ?? '?', (tasksPerKey.get(t.key ?? '?') ?? 0) + 1);
  const givenId = new Map(accepted.map((r) => [r.key, r.taskId!]));
  const secondTasks =
    [...tasksPerKey.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0) +
    statuses.filter((t) => t.key && givenId.has(t.key) && givenId.get(t.key) !== t.id).length +
    replayMismatches;

  if (neverTerminal.length) {
    const lost = new Set(neverTerminal);
    // eslint-disable-next-line no-console -- which accepted requests never ended, and when they ran
    console.error(
      `chaos: ${chaos.name}: accepted, never terminal (fault at ${window.faultAt}, recovered at ${recoveredAt})`,
      settled
        .filter((r) => r.taskId && lost.has(r.taskId))
        .slice(0, 10)
        .map((r) => ({
          key: r.key,
          taskId: r.taskId,
          status: taskById.get(r.taskId!)?.status ?? 'absent',
          attempts: r.attempts.map((a) => ({
            ...a,
            started: a.started - window.faultAt!,
            ended: a.ended - window.faultAt!,
          })),
        })),
    );
  }
  const handRestarts = await restartByHand();

  // The outbox drains once Kafka is there; then every event id must be in Kafka.
  const outbox = await until(
    () =>
      platform.db.queryAsOwner<{ event_id: string; topic: string; published: boolean }>(
        `select event_id, topic, published_at is not null as published from orc_outbox where tenant_id = $1`,
        [tenantId],
      ),
    (events) => events.every((e) => e.published),
    30_000,
  );
  const counts = await kafkaEventCounts([...new Set(outbox.map((e) => e.topic))], tenantId);
  const missing = outbox.filter((e) => !counts.has(e.event_id)).length;
  const redeliveries = outbox.reduce(
    (sum, e) => sum + Math.max(0, (counts.get(e.event_id) ?? 0) - 1),
    0,
  );

  const attempts = settled.flatMap((r) => r.attempts);
  const connAllowed = 'kill' in chaos.fault && chaos.fault.kill === 'gateway';
  const bad = [...attempts, ...replays.flatMap((r) => r.attempts)].filter((a) => {
    if (typeof a.status === 'number' && a.status < 300) return false;
    if (a.status === 'conn') return !connAllowed;
    return !((a.status === 503 || a.status === 429) && a.retryAfter);
  });
  const firstSuccess = attempts
    .filter((a) => typeof a.status === 'number' && a.status < 300 && a.started >= recoveredAt)
    .reduce((min, a) => Math.min(min, a.ended), Infinity);

  const row: Row = {
    case: chaos.name,
    sent: settled.length,
    accepted: accepted.length,
    notAccepted: settled.length - accepted.length,
    neverTerminal: neverTerminal.length,
    lost: acceptedIds.filter((id) => taskById.get(id)?.code === 'task.lost').length,
    outcomes: [...outcomes.entries()].map(([s, n]) => `${s} ${n}`).join(', '),
    inFlightAtFault,
    outboxEvents: outbox.length,
    unpublished: outbox.filter((e) => !e.published).length,
    missing,
    redeliveries,
    phases: {
      before: tally(attempts.filter((a) => a.phase === 'before')),
      during: tally(attempts.filter((a) => a.phase === 'during')),
      after: tally(attempts.filter((a) => a.phase === 'after')),
    },
    badAnswers: bad.length,
    secondTasks,
    replayed: before.length,
    handRestarts,
    firstSuccessMs: Number.isFinite(firstSuccess) ? firstSuccess - recoveredAt : null,
    firstOkTaskMs: Number.isFinite(firstOk) ? firstOk - recoveredAt : null,
  };
  return { row, bad };
}

function renderTable(all: Row[]): string {
  const header = [
    'case',
    'sent',
    'accepted',
    'not accepted',
    'never terminal',
    'outcomes',
    'in flight at fault',
    'outbox events',
    'unpublished',
    'missing in Kafka',
    'redeliveries',
    'answers before',
    'answers during',
    'answers after',
    'bad answers',
    'second tasks per key (replayed keys)',
    'restarted by hand',
    'first 2xx after recovery',
    'first task OK after recovery',
  ];
  const lines = all.map((r) => [
    r.case,
    r.sent,
    r.accepted,
    r.notAccepted,
    r.neverTerminal,
    r.outcomes,
    r.inFlightAtFault,
    r.outboxEvents,
    r.unpublished,
    r.missing,
    r.redeliveries,
    r.phases.before,
    r.phases.during,
    r.phases.after,
    r.badAnswers,
    `${r.secondTasks} (${r.replayed})`,
    r.handRestarts,
    r.firstSuccessMs === null ? 'none' : `${r.firstSuccessMs} ms`,
    r.firstOkTaskMs === null ? 'none' : `${r.firstOkTaskMs} ms`,
  ]);
  return [header, header.map(() => '---'), ...lines]
    .map((cells) => `| ${cells.join(' | ')} |`)
    .join('\n');
}

describe('chaos: outages end cleanly (issue 19)', () => {
  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s',
    async (_name, chaos) => {
      const { row, bad } = await runCase(chaos);
      rows.push(row);
      // eslint-disable-next-line no-console -- the case's line of the report
      console.log(renderTable([row]));
      // eslint-disable-next-line no-console -- what the assertion below refuses, in full
      if (bad.length) console.error(`chaos: ${chaos.name}: bad answers`, bad.slice(0, 10));
      expect({
        accepted: row.accepted > 0,
        notAccepted: row.notAccepted,
        neverTerminal: row.neverTerminal,
        // A database outage delays an outcome's write, it never loses it (a killed orchestrator
        // loses what it was running, by design: its tasks end task.lost).
        lostToTheDatabase: 'stop' in chaos.fault ? row.lost : 0,
        unpublished: row.unpublished,
        missing: row.missing,
        badAnswers: bad.slice(0, 5),
        secondTasks: row.secondTasks,
        handRestarts: row.handRestarts,
        recovered: row.firstSuccessMs !== null,
        tasksServedAfterRecovery: row.firstOkTaskMs !== null,
      }).toEqual({
        accepted: true,
        notAccepted: 0,
        neverTerminal: 0,
        lostToTheDatabase: 0,
        unpublished: 0,
        missing: 0,
        badAnswers: [],
        secondTasks: 0,
        handRestarts: 0,
        recovered: true,
        tasksServedAfterRecovery: true,
      });
    },
    180_000,
  );
});

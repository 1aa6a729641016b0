import { AionError } from '@aion/errors';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import { BreakerRegistry } from '@aion/resilience';
import { requireTenant, runWithTenant } from '@aion/tenancy';
import { eventually } from '@aion/testing';
import type { BudgetPort } from './budget';
import { parseEngines, type Engine } from './engines';
import { LatencyWindows } from './latency';
import type {
  EngineCall,
  EngineOutput,
  NewStreamEvent,
  StreamEvent,
  TaskRecord,
  TaskRepository,
  TaskRequestDoc,
  TaskStart,
  TransitionPatch,
} from './ports';
import type { ResidencyDecision, ResidencyPolicy } from './residency';
import type { TaskStatus } from './task-state';
import { TaskService } from './task-service';

// The task service over in-memory fakes of its ports: what it decides (routing, fallback, budget
// steps, outcomes, cancellation, recovery), not how the database stores it (see
// test/integration/task-repository.int.spec.ts for that).

const jurisdictions = new JurisdictionRegistry();
const engines = parseEngines(
  `
engines:
  - { name: cheap, tier: cloud-standard, kind: openai-compatible, endpoint: "https://a.example/v1", models: [m], intents: [chat], jurisdiction: DE, region: eu, price_per_1k_tokens: { input: 0.001, output: 0.002 } }
  - { name: backup, tier: cloud-premium, kind: openai-compatible, endpoint: "https://b.example/v1", models: [m], intents: [chat], jurisdiction: DE, region: eu, price_per_1k_tokens: { input: 0.01, output: 0.02 } }
`,
  jurisdictions,
);
const allowAll: ResidencyDecision = {
  allowed: 'any',
  denied: [],
  rule: 'default:allow',
  reason: '',
  models: [],
  approvalRequired: false,
};

type Behaviour = (call: EngineCall) => Promise<EngineOutput>;
const answers =
  (text: string): Behaviour =>
  async () => ({ output: { text }, inputTokens: 10, outputTokens: 5, model: 'm' });
const fails =
  (message: string): Behaviour =>
  async () => {
    throw new AionError('service.unavailable', message);
  };
/** Runs until the task's signal aborts it (a slow engine, a cancellation, a timeout). */
const hangs: Behaviour = (call) =>
  new Promise((_resolve, reject) =>
    call.signal.addEventListener('abort', () => reject(call.signal.reason)),
  );

/** Tasks in memory, with the repository's guarantees: moves only from `from`, budget steps. */
class MemoryTasks implements TaskRepository {
  readonly tasks = new Map<string, TaskRecord>();
  readonly streams = new Map<string, StreamEvent[]>();
  readonly patches: { id: string; to: TaskStatus; patch: TransitionPatch }[] = [];
  readonly budgetSteps: string[] = [];
  /** Reservations above this are refused (budget.exceeded). */
  reserveLimitUsd = Infinity;
  stale: TaskRecord[] = [];
  private readonly listeners: Parameters<TaskRepository['onAppended']>[0][] = [];

  private key = (id: string) => `${requireTenant().tenantId}/${id}`;

  private reserve(id: string, amountUsd: number): void {
    if (amountUsd > this.reserveLimitUsd)
      throw new AionError('budget.exceeded', `reserving ${amountUsd} exceeds the budget`);
    this.budgetSteps.push(`reserve ${id}`);
  }

  async create(record: TaskRecord, start?: TaskStart) {
    const existing = this.tasks.get(this.key(record.id));
    if (existing) return { record: existing, created: false };
    let stored: TaskRecord = { ...record };
    try {
      if (start?.reserveUsd) this.reserve(record.id, start.reserveUsd);
      if (start) stored = { ...stored, status: 'RUNNING', engine: start.engine };
    } catch {
      // Refused: stored QUEUED, as without a start.
    }
    this.tasks.set(this.key(record.id), stored);
    return { record: stored, created: true };
  }

  async get(id: string) {
    return this.tasks.get(this.key(id));
  }

  async list() {
    return { items: [...this.tasks.values()], total: this.tasks.size };
  }

  async transition(
    seen: TaskRecord,
    from: TaskStatus,
    to: TaskStatus,
    patch: TransitionPatch,
    stream?: NewStreamEvent | NewStreamEvent[],
  ) {
    const id = seen.id;
    const task = this.tasks.get(this.key(id));
    if (!task || task.status !== from) return undefined;
    if (patch.budget?.kind === 'reserve') this.reserve(id, patch.budget.amountUsd);
    else if (patch.budget) this.budgetSteps.push(`${patch.budget.kind} ${id}`);
    const { budget: _b, via: _v, deadLetter: _d, violation: _x, ...fields } = patch;
    const moved: TaskRecord = { ...task, ...fields, status: to, updatedAt: new Date() };
    this.tasks.set(this.key(id), moved);
    this.patches.push({ id, to, patch });
    await this.appendAs(moved, stream === undefined ? [] : [stream].flat());
    return moved;
  }

  async claimStale() {
    const claimed = this.stale;
    this.stale = [];
    return claimed;
  }

  async appendStream(id: string, events: NewStreamEvent[]) {
    const task = this.tasks.get(this.key(id));
    if (task) await this.appendAs(task, events);
  }

  private async appendAs(task: TaskRecord, events: NewStreamEvent[]) {
    const key = `${task.tenantId}/${task.id}`;
    const list = this.streams.get(key) ?? [];
    this.streams.set(key, list);
    for (const event of events) {
      const stored = { ...event, sequence: list.length + 1 };
      list.push(stored);
      for (const listener of this.listeners) listener(task.tenantId, task.id, stored, task);
    }
  }

  onAppended(listener: Parameters<TaskRepository['onAppended']>[0]) {
    this.listeners.push(listener);
  }

  async streamAfter(id: string, afterSequence: number) {
    return (this.streams.get(this.key(id)) ?? []).filter((e) => e.sequence > afterSequence);
  }

  async saveReceipt(_id: string, receipt: { json: string; jws: string }) {
    return receipt;
  }
}

function setup(
  options: {
    behaviours?: Record<string, Behaviour>;
    residency?: Partial<ResidencyPolicy>;
    taskTimeoutMs?: number;
  } = {},
) {
  const repository = new MemoryTasks();
  const calls: string[] = [];
  const signals: AbortSignal[] = [];
  const budgets = { remaining: async () => undefined } as unknown as BudgetPort;
  const service = new TaskService({
    repository,
    budgets,
    executor: {
      execute: (engine: Engine, call: EngineCall) => {
        calls.push(engine.name);
        signals.push(call.signal);
        return (options.behaviours?.[engine.name] ?? answers(`from ${engine.name}`))(call);
      },
    },
    residency: {
      cached: () => allowAll,
      decide: async () => allowAll,
      ...options.residency,
    },
    jurisdictions,
    engines,
    policies: {},
    latency: new LatencyWindows(),
    breakers: new BreakerRegistry({ consecutiveFailures: 1000 }),
    ...(options.taskTimeoutMs ? { taskTimeoutMs: options.taskTimeoutMs } : {}),
    streamPollMs: 20,
  });
  return { service, repository, calls, signals };
}

const tenant = { tenantId: 'acme', subject: 'key:dev', roles: ['developer'], requestId: 'r1' };
const inTenant = <T>(fn: () => Promise<T>) => runWithTenant(tenant, fn);

const chat = (over: Partial<TaskRequestDoc> = {}): TaskRequestDoc => ({
  schema_version: '1.0',
  task_id: '',
  intent: 'chat',
  params: { messages: [{ role: 'user', content: 'hello there' }] },
  priority: 'normal',
  sla: { budget_usd: 0, p95_ms: 0, privacy: 'allow-api' },
  metadata: {},
  data_context: { jurisdiction: 'DE', classification: 'none' },
  project_id: 'p1',
  ...over,
});

/** Submits and waits for the end, as `Prefer: wait` does. */
const run = (service: TaskService, request: TaskRequestDoc = chat()) =>
  inTenant(async () => {
    const { record } = await service.submit(request);
    return service.awaitEnd(record, 5_000, new AbortController().signal);
  });

describe('TaskService', () => {
  it('routes a task as it is accepted, runs it on the cheapest engine, commits the cost', async () => {
    const { service, repository, calls } = setup();
    const done = await run(service);
    expect(done).toMatchObject({ status: 'OK', result: { text: 'from cheap' } });
    expect(done.engine).toMatchObject({ name: 'cheap', chosenBy: 'ai-router' });
    expect(done.usage).toMatchObject({ inputTokens: 10, outputTokens: 5 });
    expect(calls).toEqual(['cheap']);
    // Reserved as it was stored RUNNING, committed with the outcome: one reservation, settled.
    expect(repository.budgetSteps).toEqual([`reserve ${done.id}`, `commit ${done.id}`]);
    const stream = await inTenant(() => repository.streamAfter(done.id, 0));
    expect(stream.at(-1)).toMatchObject({ kind: 'done', data: { status: 'OK' } });
  });

  it('falls back down the ranked engines when one fails, and says why in the routing reason', async () => {
    const { service, calls } = setup({ behaviours: { cheap: fails('upstream 500') } });
    const done = await run(service);
    expect(calls).toEqual(['cheap', 'backup']);
    expect(done).toMatchObject({ status: 'OK', result: { text: 'from backup' } });
    expect(done.engine?.reason).toMatch(/fell back from cheap \(upstream 500\) to backup/);
  });

  it('ends ERROR naming every failure, dead-lettered, its reservation released, when every engine fails', async () => {
    const { service, repository } = setup({
      behaviours: { cheap: fails('timeout upstream'), backup: fails('quota') },
    });
    const done = await run(service);
    expect(done.status).toBe('ERROR');
    expect(done.error).toMatchObject({ code: 'engine.failed', retryable: true });
    expect(done.error?.message).toMatch(/cheap: timeout upstream; backup: quota/);
    const last = repository.patches.at(-1)!;
    expect(last.patch).toMatchObject({ deadLetter: { attempts: 2 }, budget: { kind: 'release' } });
  });

  it('tries each engine the budget would allow and ends budget.exceeded when none can be reserved', async () => {
    const { service, repository, calls } = setup({
      // Not routed on intake: the run routes it and reserves engine by engine.
      residency: { cached: () => undefined },
    });
    repository.reserveLimitUsd = 0;
    const done = await run(service);
    expect(calls).toEqual([]);
    expect(done.status).toBe('ERROR');
    expect(done.error).toMatchObject({ code: 'budget.exceeded', retryable: true });
    expect(repository.budgetSteps.filter((s) => s.startsWith('reserve'))).toEqual([]);
  });

  it('is idempotent by task id: the same request is the same task; another request is a conflict', async () => {
    const { service, calls } = setup();
    const request = chat({ task_id: 'fixed-id' });
    const first = await run(service, request);
    const again = await inTenant(() => service.submit(request));
    expect(again).toMatchObject({ deduplicated: true, record: { id: first.id, status: 'OK' } });
    expect(calls).toHaveLength(1);
    await expect(
      inTenant(() => service.submit(chat({ task_id: 'fixed-id', project_id: 'other' }))),
    ).rejects.toMatchObject({ code: 'state.conflict' });
  });

  it('cancels a running task: its engine call is aborted, the reservation released', async () => {
    const { service, repository, signals } = setup({ behaviours: { cheap: hangs } });
    const { record } = await inTenant(() => service.submit(chat()));
    await eventually(() => signals.length === 1);
    expect(service.inFlight).toBe(1);
    const canceled = await inTenant(() => service.cancel(record.id, 'changed my mind'));
    expect(canceled).toMatchObject({ status: 'CANCELED', error: { code: 'task.canceled' } });
    expect(signals[0]!.aborted).toBe(true);
    await eventually(() => service.inFlight === 0);
    expect(repository.budgetSteps).toContain(`release ${record.id}`);
    // Nothing wrote OK over the cancellation.
    expect((await inTenant(() => service.get(record.id))).status).toBe('CANCELED');
    await expect(inTenant(() => service.cancel(record.id, 'again'))).rejects.toMatchObject({
      code: 'state.conflict',
    });
  });

  it('ends TIMEOUT when the task outlives its timeout', async () => {
    const { service } = setup({ behaviours: { cheap: hangs }, taskTimeoutMs: 50 });
    const done = await run(service);
    expect(done).toMatchObject({ status: 'TIMEOUT', error: { code: 'task.timeout' } });
  });

  it('refuses a task residency forbids before any engine sees it, recording the violation', async () => {
    const { service, repository, calls } = setup({
      residency: {
        cached: () => undefined,
        decide: async () => ({ ...allowAll, allowed: ['US'], rule: 'rule-us-only' }),
      },
    });
    const done = await run(service);
    expect(calls).toEqual([]);
    expect(done).toMatchObject({
      status: 'ERROR',
      error: { code: 'sovereign.residency_violation' },
    });
    expect(repository.patches.at(-1)?.patch.violation).toMatchObject({
      attempted: ['DE'],
      rule: 'rule-us-only',
    });
  });

  it('ends ERROR without a violation when the residency decision cannot be had', async () => {
    const { service, repository, calls } = setup({
      residency: {
        cached: () => undefined,
        decide: async () => {
          throw new AionError('service.unavailable', 'sovereign-ai is away');
        },
      },
    });
    const done = await run(service);
    expect(calls).toEqual([]);
    expect(done).toMatchObject({ status: 'ERROR', error: { code: 'service.unavailable' } });
    expect(repository.patches.at(-1)?.patch.violation).toBeUndefined();
  });

  it('streams what a task produces, then ends with its final event', async () => {
    const { service } = setup({
      behaviours: {
        cheap: async (call) => {
          call.onToken('one ');
          call.onToken('two');
          return { output: { text: 'one two' }, inputTokens: 2, outputTokens: 2, model: 'm' };
        },
      },
    });
    const events = await inTenant(async () => {
      const { record } = await service.submit(chat());
      const seen: StreamEvent[] = [];
      for await (const event of service.stream(record.id, 0, new AbortController().signal))
        seen.push(event);
      return seen;
    });
    expect(events.map((e) => e.kind)).toEqual(['token', 'token', 'done']);
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3]);
  });

  it('recovers other replicas’ tasks: a stale QUEUED one runs here, a stale RUNNING one ends as lost', async () => {
    const { service, repository, calls } = setup({ residency: { cached: () => undefined } });
    const now = new Date();
    const base = {
      tenantId: 'acme',
      projectId: 'p1',
      subject: 'key:dev',
      intent: 'chat',
      requestHash: 'h',
      createdAt: now,
      updatedAt: now,
    };
    const queued: TaskRecord = {
      ...base,
      id: 'q1',
      status: 'QUEUED',
      request: chat({ task_id: 'q1' }),
    };
    const running: TaskRecord = {
      ...base,
      id: 'r1',
      status: 'RUNNING',
      request: chat({ task_id: 'r1' }),
    };
    await inTenant(async () => {
      await repository.create(queued);
      await repository.create(running);
      await repository.transition(running, 'QUEUED', 'RUNNING', {});
    });
    repository.stale = [queued, { ...running }];
    expect(await service.recoverStale({ queuedForMs: 1_000 })).toBe(2);
    await eventually(() => calls.length === 1);
    await inTenant(async () => {
      await eventually(async () => (await service.get('q1')).status === 'OK');
      expect(await service.get('r1')).toMatchObject({
        status: 'TIMEOUT',
        error: { code: 'task.lost' },
      });
    });
    expect(repository.budgetSteps).toContain('release r1');
  });

  it('does not end as lost a stale RUNNING task this replica is still running', async () => {
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const { service, repository, calls } = setup({
      behaviours: {
        cheap: async () => {
          await held;
          return { output: { text: 'late' }, inputTokens: 1, outputTokens: 1, model: 'm' };
        },
      },
    });
    const record = await inTenant(async () => (await service.submit(chat())).record);
    await eventually(() => calls.length === 1); // on its engine, here
    // The reaper found it past the stale age (its outcome held up by a database outage, say).
    repository.stale = [await inTenant(() => service.get(record.id))];
    expect(await service.recoverStale({ queuedForMs: 1_000 })).toBe(0);
    finish();
    await inTenant(async () => {
      await eventually(async () => (await service.get(record.id)).status === 'OK');
      expect((await service.get(record.id)).error).toBeUndefined();
    });
  });
});

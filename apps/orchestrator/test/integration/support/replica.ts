import path from 'node:path';
import { migratePostgres, openPostgres, type Database, type Db } from '@aion/db';
import { OutboxWriter } from '@aion/events';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import { BreakerRegistry } from '@aion/resilience';
import { currentTenant, runWithTenant } from '@aion/tenancy';
import type { TestDatabase } from '@aion/testing';
import { PostgresBudgets } from '../../../src/adapters/db/budget-repository';
import { outbox } from '../../../src/adapters/db/schema';
import { PostgresTaskRepository } from '../../../src/adapters/db/task-repository';
import { countsAgainstEngine } from '../../../src/core/engine-health';
import { parseEngines, type Engine } from '../../../src/core/engines';
import { LatencyWindows } from '../../../src/core/latency';
import type {
  EngineCall,
  EngineExecutor,
  EngineOutput,
  TaskRequestDoc,
} from '../../../src/core/ports';
import type { ResidencyDecision, ResidencyPolicy } from '../../../src/core/residency';
import { TaskService } from '../../../src/core/task-service';

export const jurisdictions = new JurisdictionRegistry();

/** Two free local engines for summarize: `flaky-sum` is the cheaper by name order, so tried first. */
export const engines: readonly Engine[] = parseEngines(
  `
engines:
  - { name: flaky-sum, tier: local, kind: module, module: summarize_text, intents: [summarize], jurisdiction: DE, region: eu-central, price_per_1k_tokens: { input: 0, output: 0 } }
  - { name: steady-sum, tier: local, kind: module, module: summarize_text, intents: [summarize], jurisdiction: DE, region: eu-central, price_per_1k_tokens: { input: 0, output: 0 } }
`,
  jurisdictions,
);

/** Sovereign-ai's answer when no rule restricts the data: any jurisdiction, any model. */
const allowAll: ResidencyDecision = {
  allowed: 'any',
  denied: [],
  rule: 'default:allow',
  reason: 'no rule restricts this data',
  models: [],
  approvalRequired: false,
};
export const openResidency: ResidencyPolicy = {
  decide: async () => allowAll,
  cached: () => allowAll,
};

/** An engine call the test answers itself: resolve it, fail it, or watch its signal. */
export interface HeldCall {
  engine: string;
  tenantId: string;
  /** The task's text (summarize(...) names the task in it). */
  text: string;
  call: EngineCall;
  succeed(text?: string): void;
  fail(error: Error): void;
}

/** Engines whose calls the test decides: each call is held until the test answers it. */
export class HeldEngines implements EngineExecutor {
  readonly calls: HeldCall[] = [];
  private readonly waiters: ((call: HeldCall) => void)[] = [];

  execute(engine: Engine, call: EngineCall): Promise<EngineOutput> {
    return new Promise((resolve, reject) => {
      const held: HeldCall = {
        engine: engine.name,
        tenantId: currentTenant()?.tenantId ?? '',
        text: String(call.params['text']),
        call,
        succeed: (text = 'ok') =>
          resolve({ output: { summary: text }, inputTokens: 1, outputTokens: 1, model: 'test' }),
        fail: reject,
      };
      call.signal.addEventListener('abort', () => reject(call.signal.reason), { once: true });
      this.calls.push(held);
      for (const waiter of this.waiters.splice(0)) waiter(held);
    });
  }

  /** The next call matching `where`, already made or yet to come. */
  next(where: (call: HeldCall) => boolean): Promise<HeldCall> {
    const made = this.calls.find(where);
    if (made) return Promise.resolve(made);
    return new Promise((resolve) => {
      const wait = (call: HeldCall) => (where(call) ? resolve(call) : this.waiters.push(wait));
      this.waiters.push(wait);
    });
  }
}

/** Runs engine calls with a fixed answer per engine: throws the engine's error or succeeds. */
export class ScriptedEngines implements EngineExecutor {
  readonly calls: string[] = [];
  constructor(readonly failing: Map<string, Error> = new Map()) {}

  async execute(engine: Engine): Promise<EngineOutput> {
    this.calls.push(engine.name);
    const error = this.failing.get(engine.name);
    if (error) throw error;
    return {
      output: { summary: `by ${engine.name}` },
      inputTokens: 1,
      outputTokens: 1,
      model: engine.name,
    };
  }
}

export const migrations = {
  folder: path.resolve(__dirname, '..', '..', '..', 'migrations'),
  prefix: 'orc',
};

export async function migrate(testDb: TestDatabase): Promise<void> {
  await migratePostgres(testDb.ownerUrl, migrations, { appRole: testDb.appRole });
}

/** One orchestrator replica's task path on its own connection pool (what a composition root wires). */
export function taskReplica(
  testDb: TestDatabase,
  executor: EngineExecutor,
  breakersOn: (db: Db) => BreakerRegistry = () =>
    new BreakerRegistry({ consecutiveFailures: 2, isFailure: countsAgainstEngine }),
): { tasks: TaskService; breakers: BreakerRegistry; database: Database } {
  const database = openPostgres({ url: testDb.appUrl, max: 5 });
  const breakers = breakersOn(database.db);
  const budgets = new PostgresBudgets(database.db);
  const repository = new PostgresTaskRepository(
    database.db,
    new OutboxWriter(outbox, 'aion/orchestrator-test'),
    { remainingBudgets: budgets.remainingCache },
  );
  const tasks = new TaskService({
    repository,
    budgets,
    executor,
    residency: openResidency,
    jurisdictions,
    engines,
    policies: {},
    latency: new LatencyWindows(),
    breakers,
    taskTimeoutMs: 20_000,
    streamPollMs: 20,
  });
  return { tasks, breakers, database };
}

export const as = <T>(tenantId: string, fn: () => Promise<T>, roles = ['developer']) =>
  runWithTenant({ tenantId, subject: `${tenantId}-dev`, roles, requestId: `req-${tenantId}` }, fn);

export function summarize(taskId: string): TaskRequestDoc {
  return {
    schema_version: '1.0',
    task_id: taskId,
    intent: 'summarize',
    params: { text: `Task ${taskId}. Second point.` },
    priority: 'normal',
    sla: { budget_usd: 0, p95_ms: 0, privacy: 'local-only' },
    metadata: {},
    data_context: { jurisdiction: 'DE', classification: 'none' },
    project_id: '',
  };
}

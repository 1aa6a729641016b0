import type { Engine, TaskRoute } from './engines';
import type { Classification, Privacy } from './types';
import type { TaskStatus } from './task-state';

/** The blueprint's task request, as stored (snake_case like the public JSON). */
export interface TaskRequestDoc {
  schema_version: string;
  task_id: string;
  intent: string;
  params: Record<string, unknown>;
  preferred_engine?: string;
  priority: 'low' | 'normal' | 'high' | 'critical';
  sla: { budget_usd: number; p95_ms: number; privacy: Privacy };
  metadata: Record<string, string>;
  data_context: { jurisdiction: string; classification: Classification };
  project_id: string;
  /** Nobody streams it: engines answer whole, no token or partial rows are stored. */
  result_only?: boolean;
}

/** Facts a receipt attests, recorded when the task starts on an engine. */
export interface SovereigntyFacts {
  rule: string;
  engine: string;
  jurisdiction: string;
  region: string;
  model: {
    id: string;
    version: string;
    approval: { registry_id: string; status: string; jurisdiction: string } | 'unregistered';
  };
  started_at: string;
}

export interface TaskEngine {
  /** local | api | hybrid (see taskRoute); '' on tasks recorded before routes were. */
  route: TaskRoute | '';
  /** The engine's name in engines.yaml. */
  name: string;
  chosenBy: 'ai-router' | 'policy-override';
  reason: string;
}

export interface TaskUsage {
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /**
   * The model that served: the provider's model id, or the module of a local engine. Carried by
   * usage.recorded into the usage ledger; the task's own row does not keep it.
   */
  model?: string;
}

export interface TaskError {
  code: string;
  message: string;
  retryable: boolean;
}

export interface TaskRecord {
  tenantId: string;
  id: string;
  projectId: string;
  subject: string;
  intent: string;
  status: TaskStatus;
  request: TaskRequestDoc;
  requestHash: string;
  engine?: TaskEngine | undefined;
  result?: unknown;
  error?: TaskError | undefined;
  usage?: TaskUsage | undefined;
  sovereignty?: SovereigntyFacts | undefined;
  receipt?: { json: string; jws: string } | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export type StreamKind = 'token' | 'partial' | 'done' | 'error';

export interface StreamEvent {
  sequence: number;
  kind: StreamKind;
  data: unknown;
}

export interface NewStreamEvent {
  kind: StreamKind;
  data: unknown;
}

export interface TransitionPatch {
  engine?: TaskEngine;
  result?: unknown;
  error?: TaskError;
  usage?: TaskUsage;
  /** States passed through on the way (QUEUED -> ROUTED -> RUNNING in one transaction). */
  via?: TaskStatus[];
  /** The task exhausted its attempts: record it in the dead-letter queue with the transition. */
  deadLetter?: { attempts: number };
  sovereignty?: SovereigntyFacts;
  /** Routing refused the task on residency: publish residency.violation with the transition. */
  violation?: { attempted: string[]; rule: string; reason: string };
  /**
   * A budget step taken in the same transaction, for the reservation named by the task id:
   * reserve the estimate as the task starts on a paid engine, commit the actual cost as it ends,
   * release what is still reserved as it ends otherwise (nothing when nothing is reserved).
   */
  budget?:
    | { kind: 'reserve'; projectId: string; amountUsd: number }
    | { kind: 'commit'; actualUsd: number }
    | { kind: 'release' };
}

/** The engine a task starts on as it is accepted (routing was decided before it was stored). */
export interface TaskStart {
  engine: TaskEngine;
  sovereignty: SovereigntyFacts;
  /** The estimate to reserve for the task (a paid engine). */
  reserveUsd?: number;
}

/** Tasks and their stream events; every call runs in the caller's tenant. */
export interface TaskRepository {
  /**
   * Inserts a QUEUED task (and its lifecycle event); returns the existing one when the id is
   * taken. With `start`, the task is stored already RUNNING on that engine (QUEUED, ROUTED and
   * RUNNING all published) in the same transaction, its reservation too; if the budget refuses
   * that reservation it is stored QUEUED, as without `start`.
   */
  create(record: TaskRecord, start?: TaskStart): Promise<{ record: TaskRecord; created: boolean }>;
  get(id: string): Promise<TaskRecord | undefined>;
  list(options: {
    limit: number;
    offset: number;
    status?: TaskStatus | undefined;
  }): Promise<{ items: TaskRecord[]; total: number }>;
  /**
   * Moves the task from `from` to `to` only if it is still in `from` (so racing replicas and
   * cancellations cannot both win), recording the lifecycle event, usage event and stream event
   * in the same transaction. Undefined when the task was no longer in `from`. A reservation
   * the budget refuses (`patch.budget`) fails with budget.exceeded and leaves the task as it was.
   */
  transition(
    /** The task as the caller last saw it (id, and what its lifecycle events say about it). */
    task: TaskRecord,
    from: TaskStatus,
    to: TaskStatus,
    patch: TransitionPatch,
    stream?: NewStreamEvent | NewStreamEvent[],
  ): Promise<TaskRecord | undefined>;
  /**
   * Across tenants: unfinished tasks nobody has touched for longer than the given ages, or whose
   * replica's lease lapsed (their replica died), claimed by bumping `updated_at` and taking them
   * over so that one reaper takes each.
   */
  claimStale(options: {
    queuedForMs: number;
    runningForMs: number;
    limit: number;
  }): Promise<TaskRecord[]>;
  /** Appends events in one transaction, numbered after the task's last one. */
  appendStream(id: string, events: NewStreamEvent[]): Promise<void>;
  /**
   * Calls back after a stream event this replica wrote was committed, with the task as that
   * transaction left it, so local streams need not read back what was just written.
   */
  onAppended(
    listener: (tenantId: string, taskId: string, event: StreamEvent, record?: TaskRecord) => void,
  ): void;
  streamAfter(id: string, afterSequence: number): Promise<StreamEvent[]>;
  /** Stores a finished task's signed receipt once; returns the one stored first. */
  saveReceipt(
    id: string,
    receipt: { json: string; jws: string },
  ): Promise<{ json: string; jws: string }>;
}

/** Signs receipts (the sovereign-ai service holds the keys). */
export interface ReceiptSigner {
  sign(receiptJson: string): Promise<string>;
}

export interface EngineCall {
  intent: string;
  params: Record<string, unknown>;
  /** False when nobody streams the task: the engine may answer in one piece. */
  stream: boolean;
  signal: AbortSignal;
  onToken: (token: string) => void;
  onPartial: (partial: unknown) => void;
}

export interface EngineOutput {
  output: unknown;
  inputTokens: number;
  outputTokens: number;
  /** The model that served (the provider's model id, or the module). */
  model: string;
}

/** Runs a task on one engine (a module on module-host, or an OpenAI-compatible provider). */
export interface EngineExecutor {
  execute(engine: Engine, call: EngineCall): Promise<EngineOutput>;
}

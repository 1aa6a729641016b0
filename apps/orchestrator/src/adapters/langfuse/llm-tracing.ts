import { createHash, randomUUID } from 'node:crypto';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Logger } from '@aion/telemetry';
import type { Engine } from '../../core/engines';
import type { TaskRecord, TaskRepository } from '../../core/ports';
import { isTerminal } from '../../core/task-state';
import type { LangfuseEvent, LangfuseExporter, LangfuseTarget } from './langfuse-exporter';

/** Whether a finished task's LLM call is traced, where to, and whether its content is masked. */
export type LlmTraceDecision =
  { send: false; reason: string } | { send: true; mask: boolean; target: LangfuseTarget };

/** Decides for one task (its tenant and data context); never throws: a failure sends nothing. */
export type DecideLlmTrace = (record: TaskRecord) => Promise<LlmTraceDecision>;

/** One deployment-wide Langfuse from configuration (installs without the observability service). */
export interface LlmTracingPolicy {
  /** Tenants that opted in; no other tenant's call is ever traced. */
  tenants: ReadonlySet<string>;
  /** Where the Langfuse deployment runs: data goes there only from within its own jurisdiction. */
  jurisdiction: string;
  jurisdictions: JurisdictionRegistry;
  target: LangfuseTarget;
}

/** The configured deployment's decision: opted-in tenants, data within its jurisdiction. */
export function configuredDecisions(policy: LlmTracingPolicy): DecideLlmTrace {
  return async (record) => {
    const data = record.request.data_context;
    if (!policy.tenants.has(record.tenantId))
      return { send: false, reason: 'the tenant has not opted in' };
    if (!policy.jurisdictions.covers([data.jurisdiction], policy.jurisdiction))
      return {
        send: false,
        reason: `${data.jurisdiction} data may not go to ${policy.jurisdiction}`,
      };
    return { send: true, mask: data.classification !== 'none', target: policy.target };
  };
}

/** A stable id per task: every replica and retry names the same trace. */
const idOf = (tenantId: string, taskId: string, what: string) => {
  const h = createHash('sha256').update(`${tenantId}\u0000${taskId}\u0000${what}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

/** A masked prompt or completion: only that it was there, its classification and its size. */
const maskedAs = (record: TaskRecord, mask: boolean, value: unknown) =>
  mask
    ? {
        masked: record.request.data_context.classification,
        bytes: Buffer.byteLength(JSON.stringify(value ?? null)),
      }
    : value;

/** Whether a task is an LLM call that ran and ended: the only tasks ever traced. */
export function isTraceableLlmTask(record: TaskRecord, engines: readonly Engine[]): boolean {
  if (!isTerminal(record.status) || record.status === 'CANCELED') return false;
  const engine = engines.find((e) => e.name === record.engine?.name);
  return engine?.kind === 'openai-compatible';
}

/**
 * The Langfuse events of a finished LLM task (a trace and its generation), its prompt and
 * completion masked when `mask` says so; none for a task that is not a traceable LLM call.
 */
export function llmTraceEvents(
  record: TaskRecord,
  engines: readonly Engine[],
  mask: boolean,
): LangfuseEvent[] {
  if (!isTraceableLlmTask(record, engines)) return [];
  const engine = engines.find((e) => e.name === record.engine?.name)!;
  const traceId = idOf(record.tenantId, record.id, 'trace');
  const now = new Date().toISOString();
  const input = maskedAs(record, mask, record.request.params);
  const output = record.status === 'OK' ? maskedAs(record, mask, record.result) : undefined;
  const metadata = {
    tenant_id: record.tenantId,
    task_id: record.id,
    intent: record.intent,
    engine: engine.name,
    route: record.engine?.route ?? '',
    classification: record.request.data_context.classification,
  };
  return [
    {
      id: randomUUID(),
      timestamp: now,
      type: 'trace-create',
      body: {
        id: traceId,
        timestamp: record.createdAt.toISOString(),
        name: record.intent,
        input,
        output,
        metadata,
        tags: ['aion', record.intent],
      },
    },
    {
      id: randomUUID(),
      timestamp: now,
      type: 'generation-create',
      body: {
        id: idOf(record.tenantId, record.id, 'generation'),
        traceId,
        name: engine.name,
        startTime: record.createdAt.toISOString(),
        endTime: record.updatedAt.toISOString(),
        model: record.usage?.model ?? engine.name,
        input,
        output,
        usage: record.usage
          ? {
              input: record.usage.inputTokens,
              output: record.usage.outputTokens,
              total: record.usage.inputTokens + record.usage.outputTokens,
              unit: 'TOKENS',
            }
          : undefined,
        level: record.status === 'OK' ? 'DEFAULT' : 'ERROR',
        statusMessage: record.error?.message,
        metadata: { ...metadata, cost_usd: record.usage?.costUsd ?? 0 },
      },
    },
  ];
}

/**
 * Traces every LLM task this replica ends, as its tenant's decision says (opted in, data allowed
 * to go where that Langfuse runs, masked or not), through the exporter of the decided deployment.
 */
export function traceLlmTasks(
  repository: Pick<TaskRepository, 'onAppended'>,
  deps: {
    engines: readonly Engine[];
    decide: DecideLlmTrace;
    exporterFor: (target: LangfuseTarget) => LangfuseExporter;
    logger?: Logger;
  },
): void {
  repository.onAppended((_tenantId, _taskId, event, record) => {
    if (!record || (event.kind !== 'done' && event.kind !== 'error')) return;
    if (!isTraceableLlmTask(record, deps.engines)) return;
    // Tracing never fails or delays a task: decided and sent after it ended.
    void deps
      .decide(record)
      .then((decision) => {
        if (!decision.send) return;
        deps
          .exporterFor(decision.target)
          .enqueue(...llmTraceEvents(record, deps.engines, decision.mask));
      })
      .catch((err: unknown) =>
        deps.logger?.warn('LLM trace not sent', {
          task_id: record.id,
          reason: err instanceof Error ? err.message : String(err),
        }),
      );
  });
}

import { createHash, randomUUID } from 'node:crypto';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Engine } from '../../core/engines';
import type { TaskRecord, TaskRepository } from '../../core/ports';
import { isTerminal } from '../../core/task-state';
import type { LangfuseEvent, LangfuseExporter } from './langfuse-exporter';

export interface LlmTracingPolicy {
  /** Tenants that opted in; no other tenant's call is ever traced. */
  tenants: ReadonlySet<string>;
  /** Where the Langfuse deployment runs: data goes there only from within its own jurisdiction. */
  jurisdiction: string;
  jurisdictions: JurisdictionRegistry;
  engines: readonly Engine[];
}

/** A stable id per task: every replica and retry names the same trace. */
const idOf = (tenantId: string, taskId: string, what: string) => {
  const h = createHash('sha256').update(`${tenantId}\u0000${taskId}\u0000${what}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

/**
 * Prompts and completions of classified data (anything but `none`) are never sent: only that
 * they were there, and their size.
 */
const masked = (record: TaskRecord, value: unknown) =>
  record.request.data_context.classification === 'none'
    ? value
    : {
        masked: record.request.data_context.classification,
        bytes: Buffer.byteLength(JSON.stringify(value ?? null)),
      };

/**
 * The Langfuse events of a finished LLM task (a trace and its generation), or none when it may
 * not be traced: the tenant has not opted in, the engine is not an LLM provider, nothing ran, or
 * the task's data may not leave for the Langfuse deployment's jurisdiction (it must lie within
 * the data's own).
 */
export function llmTraceEvents(record: TaskRecord, policy: LlmTracingPolicy): LangfuseEvent[] {
  if (!policy.tenants.has(record.tenantId) || !isTerminal(record.status)) return [];
  const engine = policy.engines.find((e) => e.name === record.engine?.name);
  if (engine?.kind !== 'openai-compatible' || record.status === 'CANCELED') return [];
  if (!policy.jurisdictions.covers([record.request.data_context.jurisdiction], policy.jurisdiction))
    return [];
  const traceId = idOf(record.tenantId, record.id, 'trace');
  const now = new Date().toISOString();
  const input = masked(record, record.request.params);
  const output = record.status === 'OK' ? masked(record, record.result) : undefined;
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

/** Traces every LLM task this replica ends, as the tenant's policy allows, through the exporter. */
export function traceLlmTasks(
  repository: Pick<TaskRepository, 'onAppended'>,
  exporter: LangfuseExporter,
  policy: LlmTracingPolicy,
): void {
  repository.onAppended((_tenantId, _taskId, event, record) => {
    if (!record || (event.kind !== 'done' && event.kind !== 'error')) return;
    try {
      exporter.enqueue(...llmTraceEvents(record, policy));
    } catch {
      // Tracing never fails a task.
    }
  });
}

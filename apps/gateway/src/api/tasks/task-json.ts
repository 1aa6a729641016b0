import { toJson, type JsonObject } from '@bufbuild/protobuf';
import { timestampDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import {
  ChosenBy,
  StreamEventKind,
  type StreamResponse,
  DataClassification,
  Priority,
  Privacy,
  TaskStatus,
  type TaskView,
} from '@aion/contracts';
import type { TaskRequestBody } from './task-schemas';

type StatusName = 'QUEUED' | 'ROUTED' | 'RUNNING' | 'OK' | 'ERROR' | 'TIMEOUT' | 'CANCELED';
const STATUS: Record<number, StatusName> = {
  [TaskStatus.QUEUED]: 'QUEUED',
  [TaskStatus.ROUTED]: 'ROUTED',
  [TaskStatus.RUNNING]: 'RUNNING',
  [TaskStatus.OK]: 'OK',
  [TaskStatus.ERROR]: 'ERROR',
  [TaskStatus.TIMEOUT]: 'TIMEOUT',
  [TaskStatus.CANCELED]: 'CANCELED',
};
export const STATUS_CODE: Record<string, TaskStatus> = Object.fromEntries(
  Object.entries(STATUS).map(([k, v]) => [v, Number(k) as TaskStatus]),
);
export const TERMINAL = new Set(['OK', 'ERROR', 'TIMEOUT', 'CANCELED']);

/** The blueprint's canonical result JSON. */
export function taskJson(result: TaskView) {
  const usage = result.usage;
  return {
    schema_version: result.schemaVersion,
    task_id: result.taskId,
    intent: result.intent,
    // A task not yet given a status by the orchestrator is waiting in its queue.
    status: STATUS[result.status] ?? 'QUEUED',
    engine: result.engine
      ? {
          // The orchestrator sets route from the engine's tier (see docs/ARCHITECTURE.md).
          route: result.engine.route as 'local' | 'api' | 'hybrid',
          chosen_by: (result.engine.chosenBy === ChosenBy.POLICY_OVERRIDE
            ? 'policy-override'
            : 'ai-router') as 'policy-override' | 'ai-router',
          reason: result.engine.reason,
          name: result.engine.name,
        }
      : null,
    result: result.result ? toJson(ValueSchema, result.result) : null,
    usage: usage
      ? {
          latency_ms: usage.latencyMs,
          tokens: usage.inputTokens + usage.outputTokens,
          input_tokens: usage.inputTokens,
          output_tokens: usage.outputTokens,
          cost_usd: usage.costUsd,
        }
      : null,
    error: result.error
      ? {
          code: result.error.code,
          message: result.error.message,
          retryable: result.error.retryable,
        }
      : null,
    created_at: result.createdAt ? timestampDate(result.createdAt).toISOString() : null,
    updated_at: result.updatedAt ? timestampDate(result.updatedAt).toISOString() : null,
  };
}

/** The JSON API's words as the contract's enums. */
export const PRIVACY_CODE = {
  'local-only': Privacy.LOCAL_ONLY,
  'allow-api': Privacy.ALLOW_API,
  hybrid: Privacy.HYBRID,
} as const;
const PRIORITY = {
  low: Priority.LOW,
  normal: Priority.NORMAL,
  high: Priority.HIGH,
  critical: Priority.CRITICAL,
} as const;
export const CLASSIFICATION_CODE = {
  none: DataClassification.NONE,
  pii: DataClassification.PII,
  financial: DataClassification.FINANCIAL,
  health: DataClassification.HEALTH,
  biometric: DataClassification.BIOMETRIC,
} as const;

/** The validated public request as the orchestrator's TaskSpec message. */
export function toSubmit(body: TaskRequestBody) {
  return {
    task: {
      schemaVersion: body.schema_version,
      taskId: body.task_id ?? '',
      intent: body.intent,
      params: body.params as JsonObject,
      preferredEngine: body.preferred_engine ?? '',
      priority: PRIORITY[body.priority],
      sla: {
        budgetUsd: body.sla.budget_usd,
        p95Ms: body.sla.p95_ms,
        privacy: PRIVACY_CODE[body.sla.privacy],
      },
      metadata: body.metadata,
      dataContext: {
        jurisdiction: body.data_context.jurisdiction,
        classification: CLASSIFICATION_CODE[body.data_context.classification],
      },
      projectId: body.project_id ?? '',
    },
  };
}

const SSE_EVENT: Record<number, string> = {
  [StreamEventKind.TOKEN]: 'token',
  [StreamEventKind.PARTIAL]: 'partial',
  [StreamEventKind.DONE]: 'done',
  [StreamEventKind.ERROR]: 'error',
};

/** The name of a stream event on SSE and WebSocket: token, partial, done or error. */
export function sseEventName(kind: StreamEventKind): string {
  return SSE_EVENT[kind] ?? 'message';
}

/** The JSON an SSE or WebSocket client gets for one stream event. */
export function streamEventJson(event: StreamResponse): unknown {
  if (event.kind === StreamEventKind.TOKEN) return { token: event.token };
  if (event.kind === StreamEventKind.PARTIAL)
    return { partial: event.data ? toJson(ValueSchema, event.data) : null };
  return event.result
    ? taskJson(event.result)
    : event.data
      ? toJson(ValueSchema, event.data)
      : null;
}

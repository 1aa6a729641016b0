import { toJson, type JsonObject } from '@bufbuild/protobuf';
import { timestampDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import {
  ChosenBy,
  DataClassification,
  Priority,
  Privacy,
  TaskStatus,
  type TaskView,
} from '@aion/contracts';
import type * as z from 'zod/v4';
import type { TaskRequest } from './schemas';

const STATUS: Record<number, string> = {
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
    status: STATUS[result.status] ?? 'UNKNOWN',
    engine: result.engine
      ? {
          route: result.engine.route,
          chosen_by:
            result.engine.chosenBy === ChosenBy.POLICY_OVERRIDE ? 'policy-override' : 'ai-router',
          reason: result.engine.reason,
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

const PRIVACY = {
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
const CLASSIFICATION = {
  none: DataClassification.NONE,
  pii: DataClassification.PII,
  financial: DataClassification.FINANCIAL,
  health: DataClassification.HEALTH,
  biometric: DataClassification.BIOMETRIC,
} as const;

/** The validated public request as the orchestrator's TaskSpec message. */
export function toSubmit(body: z.output<typeof TaskRequest>) {
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
        privacy: PRIVACY[body.sla.privacy],
      },
      metadata: body.metadata,
      dataContext: {
        jurisdiction: body.data_context.jurisdiction,
        classification: CLASSIFICATION[body.data_context.classification],
      },
      projectId: body.project_id ?? '',
    },
  };
}

import type { MessageInitShape } from '@bufbuild/protobuf';
import type { TaskResultSchema, TaskView } from '@aion/contracts';
import { taskJson } from '../tasks/task-json';

/**
 * The orchestrator's view of a task as the public TaskResult: the blueprint's fields, with
 * result_json the canonical result JSON exactly as REST serves it.
 */
export function publicTaskResult(
  view: TaskView,
  deduplicated = false,
): MessageInitShape<typeof TaskResultSchema> {
  const json = taskJson(view);
  return {
    schemaVersion: json.schema_version,
    taskId: json.task_id,
    intent: json.intent,
    status: json.status,
    ...(json.engine
      ? {
          engine: {
            route: json.engine.route,
            chosenBy: json.engine.chosen_by,
            reason: json.engine.reason,
            name: json.engine.name,
          },
        }
      : {}),
    resultJson: JSON.stringify(json),
    ...(json.usage
      ? {
          usage: {
            latencyMs: BigInt(json.usage.latency_ms),
            tokens: BigInt(json.usage.tokens),
            costUsd: json.usage.cost_usd,
            inputTokens: BigInt(json.usage.input_tokens),
            outputTokens: BigInt(json.usage.output_tokens),
          },
        }
      : {}),
    ...(json.error
      ? {
          error: {
            code: json.error.code,
            message: json.error.message,
            retryable: json.error.retryable,
          },
        }
      : {}),
    ...(view.createdAt ? { createdAt: view.createdAt } : {}),
    ...(view.updatedAt ? { updatedAt: view.updatedAt } : {}),
    deduplicated,
  };
}

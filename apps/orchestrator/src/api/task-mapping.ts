import { fromJson, type JsonValue, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import { ChosenBy, Priority, Privacy, type TaskSpec, type TaskViewSchema } from '@aion/contracts';
import { AionError, type ErrorDetail } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { TaskRecord, TaskRequestDoc } from '../core/ports';
import { CLASSIFICATION_BY_PROTO, PROTO_STATUS } from '../proto';

export const SCHEMA_VERSION = '1.0';
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const INTENT = /^[a-z][a-z0-9_-]{0,62}$/;

const PRIVACY: Record<number, TaskRequestDoc['sla']['privacy'] | undefined> = {
  [Privacy.UNSPECIFIED]: 'hybrid',
  [Privacy.LOCAL_ONLY]: 'local-only',
  [Privacy.ALLOW_API]: 'allow-api',
  [Privacy.HYBRID]: 'hybrid',
};
const PRIORITY: Record<number, TaskRequestDoc['priority'] | undefined> = {
  [Priority.UNSPECIFIED]: 'normal',
  [Priority.LOW]: 'low',
  [Priority.NORMAL]: 'normal',
  [Priority.HIGH]: 'high',
  [Priority.CRITICAL]: 'critical',
};
/** Checks a TaskSpec from the wire and turns it into the stored document; all problems at once. */
export function toRequestDoc(
  task: TaskSpec | undefined,
  jurisdictions: JurisdictionRegistry,
): TaskRequestDoc {
  const problems: ErrorDetail[] = [];
  if (!task)
    throw AionError.validation('task is required', [{ field: 'task', message: 'is required' }]);
  if (task.taskId && !TASK_ID.test(task.taskId))
    problems.push({
      field: 'task_id',
      message: 'must be 1-128 letters, digits, ".", "_", ":" or "-"',
    });
  if (!INTENT.test(task.intent))
    problems.push({ field: 'intent', message: 'must be a lower-case name such as "summarize"' });
  const privacy = PRIVACY[task.sla?.privacy ?? 0];
  if (!privacy)
    problems.push({ field: 'sla.privacy', message: 'must be local-only, allow-api or hybrid' });
  const budget = task.sla?.budgetUsd ?? 0;
  if (!(budget >= 0) || !Number.isFinite(budget))
    problems.push({ field: 'sla.budget_usd', message: 'must be a non-negative number' });
  const priority = PRIORITY[task.priority];
  if (!priority) problems.push({ field: 'priority', message: 'is not a known priority' });
  // Unspecified is unclassified data, as the contract says.
  const given = task.dataContext?.classification ?? 0;
  const classification = given === 0 ? 'none' : CLASSIFICATION_BY_PROTO[given];
  if (!classification)
    problems.push({
      field: 'data_context.classification',
      message: 'must be pii, financial, health, biometric or none',
    });
  let jurisdiction = '';
  if (!task.dataContext?.jurisdiction)
    problems.push({ field: 'data_context.jurisdiction', message: 'is required' });
  else if (!jurisdictions.isKnown(task.dataContext.jurisdiction))
    problems.push({
      field: 'data_context.jurisdiction',
      reason: 'unknown_jurisdiction',
      message: `${JSON.stringify(task.dataContext.jurisdiction)} is not an ISO 3166-1 alpha-2 or region code`,
    });
  else jurisdiction = jurisdictions.normalize(task.dataContext.jurisdiction);
  if (task.projectId && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(task.projectId))
    problems.push({
      field: 'project_id',
      message: 'must be 1-63 letters, digits, ".", "_" or "-"',
    });
  if (problems.length) throw AionError.validation('the task request is invalid', problems);
  return {
    schema_version: task.schemaVersion || SCHEMA_VERSION,
    task_id: task.taskId,
    intent: task.intent,
    params: (task.params ?? {}) as Record<string, unknown>,
    ...(task.preferredEngine ? { preferred_engine: task.preferredEngine } : {}),
    priority: priority!,
    sla: { budget_usd: budget, p95_ms: task.sla?.p95Ms ?? 0, privacy: privacy! },
    metadata: { ...task.metadata },
    data_context: { jurisdiction, classification: classification! },
    project_id: task.projectId,
    ...(task.resultOnly ? { result_only: true } : {}),
  };
}

/** The canonical result: schema_version, task_id, intent, status, engine, result, usage, error. */
export function toTaskView(record: TaskRecord): MessageInitShape<typeof TaskViewSchema> {
  return {
    schemaVersion: record.request.schema_version || SCHEMA_VERSION,
    taskId: record.id,
    intent: record.intent,
    status: PROTO_STATUS[record.status],
    ...(record.engine
      ? {
          engine: {
            route: record.engine.route,
            name: record.engine.name,
            chosenBy:
              record.engine.chosenBy === 'policy-override'
                ? ChosenBy.POLICY_OVERRIDE
                : ChosenBy.AI_ROUTER,
            reason: record.engine.reason,
          },
        }
      : {}),
    ...(record.result !== undefined
      ? { result: fromJson(ValueSchema, record.result as JsonValue) }
      : {}),
    ...(record.usage ? { usage: record.usage } : {}),
    ...(record.error ? { error: record.error } : {}),
    createdAt: timestampFromDate(record.createdAt),
    updatedAt: timestampFromDate(record.updatedAt),
  };
}

import * as z from 'zod/v4';
import {
  Classification,
  ErrorEnvelopeJson,
  PageInfo,
  PageToken,
  Privacy,
  queryInt,
  Timestamp,
  type JurisdictionSchema,
} from '../wire-schemas';

/** Schemas of /v1/tasks: the blueprint's task request and canonical result JSON. */

export const TaskId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/)
  .describe('Client-chosen or generated task id');
export const TaskIdPath = z.strictObject({ id: TaskId });

export const SummarizeParams = z.strictObject({
  text: z.string().min(1).max(200_000),
  max_sentences: z.int().min(1).max(50).optional(),
});

const INTENT = /^[a-z][a-z0-9_-]{0,62}$/;
/** Intents with parameters of their own; any other intent takes a free-form object. */
export const INTENT_PARAMS: Readonly<Record<string, z.ZodObject>> = { summarize: SummarizeParams };

function taskRequestOf(
  jurisdiction: JurisdictionSchema,
  intent: z.ZodType<string>,
  params: z.ZodType,
) {
  return z.strictObject({
    schema_version: z.enum(['1.0']).default('1.0'),
    task_id: TaskId.optional().describe('Client-chosen id; Submit is idempotent by it'),
    intent,
    params,
    preferred_engine: z.string().min(1).max(63).optional(),
    priority: z.enum(['low', 'normal', 'high', 'critical']).default('normal'),
    sla: z
      .strictObject({
        budget_usd: z
          .number()
          .min(0)
          .max(1_000_000)
          .default(0)
          .describe('Most this task may cost; 0 means no task-level cap'),
        p95_ms: z
          .int()
          .min(0)
          .max(3_600_000)
          .default(0)
          .describe('Latency owed; engines observed slower are excluded'),
        privacy: Privacy.default('hybrid'),
      })
      .default({ budget_usd: 0, p95_ms: 0, privacy: 'hybrid' }),
    metadata: z.record(z.string().min(1).max(64), z.string().max(1024)).default({}),
    data_context: z.strictObject({ jurisdiction, classification: Classification }),
    project_id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
      .optional(),
  });
}

/** The task request: a summarize task's params are checked by the intent's own schema. */
export function taskRequestSchema(jurisdiction: JurisdictionSchema) {
  const otherIntent = z
    .string()
    .regex(INTENT)
    .regex(new RegExp(`^(?!(?:${Object.keys(INTENT_PARAMS).join('|')})$)`), 'has its own branch');
  return z.union([
    taskRequestOf(jurisdiction, z.literal('summarize'), SummarizeParams),
    taskRequestOf(jurisdiction, otherIntent, z.record(z.string(), z.unknown()).default({})),
  ]);
}
export type TaskRequestBody = z.output<ReturnType<typeof taskRequestSchema>>;

export const TaskStatusName = z.enum([
  'QUEUED',
  'ROUTED',
  'RUNNING',
  'OK',
  'ERROR',
  'TIMEOUT',
  'CANCELED',
]);

/** The canonical result JSON (blueprint §3.1) with Aion's added fields. */
export const TaskResultJson = z.object({
  schema_version: z.string(),
  task_id: TaskId,
  intent: z.string(),
  status: TaskStatusName,
  engine: z
    .object({
      route: z.enum(['local', 'api', 'hybrid']),
      chosen_by: z.enum(['ai-router', 'policy-override']),
      reason: z.string(),
      name: z.string().describe('The engine that ran the task'),
    })
    .nullable(),
  result: z.unknown().describe('The intent\'s output, e.g. {"summary": "..."}'),
  usage: z
    .object({
      latency_ms: z.int().min(0),
      tokens: z.int().min(0),
      input_tokens: z.int().min(0),
      output_tokens: z.int().min(0),
      cost_usd: z.number().min(0),
    })
    .nullable(),
  error: z.object({ code: z.string(), message: z.string(), retryable: z.boolean() }).nullable(),
  created_at: Timestamp.nullable(),
  updated_at: Timestamp.nullable(),
});

export const SubmittedTaskJson = TaskResultJson.extend({
  deduplicated: z.boolean().describe('A task with this id existed and was returned unchanged'),
  links: z.object({ self: z.string(), stream: z.string() }),
});

export const TaskListQuery = z.strictObject({
  limit: queryInt(1, 200).default(50),
  page_token: PageToken.optional(),
  status: TaskStatusName.optional(),
});
export const TaskPage = z.object({ data: z.array(TaskResultJson), ...PageInfo });

export const CancelBody = z.strictObject({ reason: z.string().max(500).default('') });

export const ReceiptJson = z.object({
  receipt: z
    .record(z.string(), z.unknown())
    .describe('What was decided, where it ran, under which rules'),
  jws: z
    .string()
    .describe('Compact JWS (EdDSA) over the receipt; keys at /.well-known/aion-receipt-keys'),
});

/** What each server-sent event of a task carries in its data. */
export const TaskEvents = {
  token: z.object({ token: z.string() }),
  partial: z.object({ partial: z.unknown() }),
  done: TaskResultJson,
  error: z.union([TaskResultJson, ErrorEnvelopeJson]),
};

export const StreamQuery = z.strictObject({
  last_event_id: z
    .string()
    .regex(/^\d{1,15}$/)
    .optional()
    .describe('Resume after this event (as the Last-Event-ID header)'),
});
export const StreamHeaders = z.object({
  'last-event-id': z
    .string()
    .regex(/^\d{1,15}$/)
    .optional(),
});
export const WaitHeaders = z.object({
  prefer: z
    .string()
    .max(200)
    .optional()
    .describe('wait=N: answer with the finished result if it ends within N seconds (max 60)'),
});

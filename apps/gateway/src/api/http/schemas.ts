import * as z from 'zod/v4';

/**
 * Request schemas of the public API. The same objects validate requests and produce the
 * OpenAPI document (openapi.ts), so the two cannot drift apart.
 */
export const Jurisdiction = z
  .string()
  .min(2)
  .max(32)
  .describe('ISO 3166-1 alpha-2 code (DE) or a region code (EU)');
export const Classification = z.enum(['pii', 'financial', 'health', 'biometric', 'none']);
export const Privacy = z.enum(['local-only', 'allow-api', 'hybrid']);

export const SummarizeParams = z.strictObject({
  text: z.string().min(1).max(200_000),
  max_sentences: z.int().min(1).max(50).optional(),
});

export const TaskRequest = z.strictObject({
  schema_version: z.string().max(16).default('1.0'),
  task_id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/)
    .optional()
    .describe('Client-chosen id; Submit is idempotent by it'),
  intent: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/),
  params: z.record(z.string(), z.unknown()).default({}),
  preferred_engine: z.string().max(63).optional(),
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
  metadata: z.record(z.string().max(64), z.string().max(1024)).default({}),
  data_context: z.strictObject({ jurisdiction: Jurisdiction, classification: Classification }),
  project_id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
    .optional(),
});

/** Per-intent parameter schemas, checked together with the envelope so every problem is listed. */
export const INTENT_PARAMS: Record<string, z.ZodType> = { summarize: SummarizeParams };

export const TaskListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  page_token: z.string().max(200).optional(),
  status: z.enum(['QUEUED', 'ROUTED', 'RUNNING', 'OK', 'ERROR', 'TIMEOUT', 'CANCELED']).optional(),
});

export const CancelRequest = z.strictObject({ reason: z.string().max(500).default('') });

export const CreateApiKeyRequest = z.strictObject({
  name: z.string().min(1).max(200),
  role: z.enum(['admin', 'operator', 'developer', 'observer']),
  expires_at: z.iso.datetime({ offset: true }).optional(),
});

export const BudgetReserveRequest = z.strictObject({
  request_id: z.string().min(1).max(128),
  project_id: z.string().max(63).default(''),
  amount_usd: z.number().min(0).max(1_000_000),
});
export const BudgetCommitRequest = z.strictObject({
  request_id: z.string().min(1).max(128),
  actual_usd: z.number().min(0).max(1_000_000),
});
export const BudgetReleaseRequest = z.strictObject({ request_id: z.string().min(1).max(128) });
export const BudgetStateQuery = z.strictObject({ project_id: z.string().max(63).default('') });
export const BudgetLimitRequest = z.strictObject({
  project_id: z.string().max(63).default(''),
  limit_usd: z.number().min(0).max(1_000_000_000),
});

export const TaskIdParam = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
});

export const DeadLetterListQuery = z.strictObject({
  resolved: z.enum(['true', 'false']).optional().describe('Only open (false) or closed (true)'),
  source: z.enum(['task', 'message']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export const DeadLetterIdParam = z.strictObject({ id: z.uuid() });
export const DeadLetterAction = z.strictObject({
  note: z.string().max(1000).default('').describe('Why it was resolved or replayed'),
});

export const AgentRoleParam = z.strictObject({ role: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/) });
export const PromptVersionParam = AgentRoleParam.extend({
  version: z.coerce.number().int().min(1).max(2_147_483_647),
});
export const AgentRoleRequest = z.strictObject({
  description: z.string().max(2000).default(''),
  daily_update_limit: z.int().min(0).max(10_000).describe('Automatic prompt updates per UTC day'),
  cooldown_seconds: z
    .int()
    .min(0)
    .max(2_592_000)
    .describe('Minimum time between automatic updates'),
  requires_approval: z.boolean().default(false),
});
export const PromptUpdateRequest = z.strictObject({
  prompt: z.string().trim().min(1).max(100_000),
  source: z.enum(['automatic', 'manual']).default('automatic'),
  reason: z.string().max(2000).default(''),
});
export const PromptDecisionRequest = z.strictObject({ note: z.string().max(2000).default('') });

import * as z from 'zod/v4';
import { CLASSIFICATION_CODE } from '../../tasks/task-json';
import { Classification, Timestamp } from '../../wire-schemas';
import { route, type Route } from '../routing/route';
import { BASE, iso, type ObservabilityClient } from './observability-json';

type SettingsMessage = NonNullable<
  Awaited<ReturnType<ObservabilityClient['getLlmTracingSettings']>>['settings']
>;
type ClassificationName = z.infer<typeof Classification>;

const NAME_OF = new Map<number, ClassificationName>(
  Object.entries(CLASSIFICATION_CODE).map(([name, code]) => [code, name as ClassificationName]),
);

const LlmTracing = z
  .object({
    enabled: z.boolean(),
    langfuse_url: z.string(),
    langfuse_jurisdiction: z.string(),
    public_key: z.string(),
    secret_key_set: z.boolean().describe('A secret key is stored (it is never returned)'),
    unmasked_classifications: z
      .array(Classification)
      .describe('Data whose prompts and completions are sent as they are; all else is masked'),
    updated_at: Timestamp.nullable(),
  })
  .meta({ id: 'LlmTracing' });

const LlmTracingRequest = z
  .strictObject({
    enabled: z.boolean(),
    langfuse_url: z.string().max(2048).optional().describe('Required when enabled'),
    langfuse_jurisdiction: z
      .string()
      .max(64)
      .optional()
      .describe('Where the deployment runs (country or region code); required when enabled'),
    public_key: z.string().max(256).optional(),
    secret_key: z
      .string()
      .max(256)
      .optional()
      .describe('Write-only; omitted or empty keeps the stored key (one is required to enable)'),
    unmasked_classifications: z.array(Classification).max(5).optional(),
  })
  .meta({ id: 'LlmTracingRequest' });

const json = (s: SettingsMessage | undefined) => ({
  enabled: s?.enabled ?? false,
  langfuse_url: s?.langfuseUrl ?? '',
  langfuse_jurisdiction: s?.langfuseJurisdiction ?? '',
  public_key: s?.publicKey ?? '',
  secret_key_set: s?.secretKeySet ?? false,
  unmasked_classifications: (s?.unmaskedClassifications ?? []).flatMap((c) => {
    const name = NAME_OF.get(c);
    return name ? [name] : [];
  }),
  updated_at: iso(s?.updatedAt),
});

/** GET and PUT /api/v1/observability/llm-tracing: the tenant's Langfuse tracing, off by default. */
export function llmTracingRoutes(obs: ObservabilityClient, requestTimeoutMs: number): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  const tag = 'observability';
  const path = `${BASE}/llm-tracing`;
  return [
    route({
      method: 'get',
      path,
      operationId: 'getLlmTracing',
      summary: "The tenant's LLM tracing (Langfuse) settings; off until enabled",
      tag,
      access: 'platform:read',
      request: {},
      responses: { 200: { description: 'The settings', schema: LlmTracing } },
      async handle() {
        return { status: 200, body: json((await obs.getLlmTracingSettings({}, o)).settings) };
      },
    }),
    route({
      method: 'put',
      path,
      operationId: 'putLlmTracing',
      summary:
        "Sets the tenant's LLM tracing: its Langfuse deployment and where it runs (traces go there only when residency allows the data), and what is sent unmasked",
      tag,
      access: 'observability:manage',
      request: { body: LlmTracingRequest },
      responses: { 200: { description: 'The settings as stored', schema: LlmTracing } },
      async handle({ body }) {
        const r = await obs.updateLlmTracingSettings(
          {
            settings: {
              enabled: body.enabled,
              langfuseUrl: body.langfuse_url ?? '',
              langfuseJurisdiction: body.langfuse_jurisdiction ?? '',
              publicKey: body.public_key ?? '',
              secretKey: body.secret_key ?? '',
              unmaskedClassifications: (body.unmasked_classifications ?? []).map(
                (c) => CLASSIFICATION_CODE[c],
              ),
            },
          },
          o,
        );
        return { status: 200, body: json(r.settings) };
      },
    }),
  ];
}

import * as z from 'zod/v4';
import { CLASSIFICATION_CODE } from '../../tasks/task-json';
import { Classification, Timestamp, type JurisdictionSchema } from '../../wire-schemas';
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
    secret_key_ref: z
      .string()
      .describe("The secret key's name in the deployment's secrets ('' when none is named)"),
    secret_key_set: z
      .boolean()
      .describe('The named secret key is present in the deployment (it is never returned)'),
    unmasked_classifications: z
      .array(Classification)
      .describe('Data whose prompts and completions are sent as they are; all else is masked'),
    updated_at: Timestamp.nullable(),
  })
  .meta({ id: 'LlmTracing' });

/**
 * Exactly what the service accepts, so that the schema says it (no hidden rule): an http(s) URL
 * without credentials whose host is a DNS name or an IPv4 address, a known jurisdiction, a
 * public key of printable ASCII and a secret key's name; enabling names all of them. A secret
 * key itself is refused (strict objects): it is never sent here.
 */
const IPV4_PART = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const LABEL = '[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*';
const HOST = `(${LABEL}(\\.${LABEL})*|${IPV4_PART}(\\.${IPV4_PART}){3})`;
const LangfuseUrl = z
  .string()
  .max(2048)
  .regex(new RegExp(`^https?://${HOST}(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$`))
  .describe('The Langfuse deployment, e.g. https://langfuse.eu.example');
const Key = z
  .string()
  .max(256)
  .regex(/^[\x21-\x7e]+$/);
// A name, never the key: the service reads <tenant_id>.<name> from the secrets the deployment
// mounts (AION_OBSERVABILITY_SECRETS_DIR), so a key never passes through this API.
const SecretKeyRef = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/)
  .describe(
    "The name of the tenant's Langfuse secret key in the deployment's secrets (the operator puts it there as <tenant_id>.<name>)",
  );

function llmTracingRequest(jurisdiction: JurisdictionSchema) {
  const unmasked = z
    .array(Classification)
    .max(5)
    .optional()
    .describe('Data whose prompts and completions are sent as they are; all else is masked');
  // Where the deployment runs: traces go there only when residency allows the data.
  const where = jurisdiction;
  return z
    .discriminatedUnion('enabled', [
      z.strictObject({
        enabled: z.literal(true),
        langfuse_url: LangfuseUrl,
        langfuse_jurisdiction: where,
        public_key: Key,
        secret_key_ref: SecretKeyRef,
        unmasked_classifications: unmasked,
      }),
      z.strictObject({
        enabled: z.literal(false),
        langfuse_url: LangfuseUrl.optional(),
        langfuse_jurisdiction: where.optional(),
        public_key: Key.optional(),
        secret_key_ref: SecretKeyRef.optional(),
        unmasked_classifications: unmasked,
      }),
    ])
    .meta({ id: 'LlmTracingRequest' });
}

const json = (s: SettingsMessage | undefined) => ({
  enabled: s?.enabled ?? false,
  langfuse_url: s?.langfuseUrl ?? '',
  langfuse_jurisdiction: s?.langfuseJurisdiction ?? '',
  public_key: s?.publicKey ?? '',
  secret_key_ref: s?.secretKeyRef ?? '',
  secret_key_set: s?.secretKeySet ?? false,
  unmasked_classifications: (s?.unmaskedClassifications ?? []).flatMap((c) => {
    const name = NAME_OF.get(c);
    return name ? [name] : [];
  }),
  updated_at: iso(s?.updatedAt),
});

/** GET and PUT /api/v1/observability/llm-tracing: the tenant's Langfuse tracing, off by default. */
export function llmTracingRoutes(
  obs: ObservabilityClient,
  jurisdiction: JurisdictionSchema,
  requestTimeoutMs: number,
): Route[] {
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
      request: { body: llmTracingRequest(jurisdiction) },
      responses: { 200: { description: 'The settings as stored', schema: LlmTracing } },
      // Enabling with a secret_key_ref the deployment holds no key under for the tenant.
      errors: [404],
      async handle({ body }) {
        const r = await obs.updateLlmTracingSettings(
          {
            settings: {
              enabled: body.enabled,
              langfuseUrl: body.langfuse_url ?? '',
              langfuseJurisdiction: body.langfuse_jurisdiction ?? '',
              publicKey: body.public_key ?? '',
              secretKeyRef: body.secret_key_ref ?? '',
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

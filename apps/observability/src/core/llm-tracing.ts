import { AionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';

export const CLASSIFICATIONS = ['none', 'pii', 'financial', 'health', 'biometric'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/** A tenant's LLM tracing (Langfuse): off unless the tenant turns it on. */
export interface LlmTracingSettings {
  tenantId: string;
  enabled: boolean;
  /** The tenant's Langfuse deployment (batch ingestion API at /api/public/ingestion). */
  langfuseUrl: string;
  /** Where that deployment runs: data is sent there only when residency allows it. */
  langfuseJurisdiction: string;
  publicKey: string;
  /**
   * The name the tenant's Langfuse secret key is held under in the deployment's secret source
   * (see TenantSecrets); the key itself is never stored nor returned by this service.
   */
  secretKeyRef: string;
  /** Prompts and completions of data of these classifications are masked (only their size is sent). */
  maskedClassifications: Classification[];
  updatedAt?: Date;
}

/** What a tenant writes; unset fields take the defaults below. */
export type LlmTracingInput = Partial<Omit<LlmTracingSettings, 'tenantId' | 'updatedAt'>>;

/**
 * A secret's name: what a Kubernetes Secret key allows, minus what could leave a directory or
 * name another tenant's secret (no `/`, no leading dot; the secret source adds the tenant).
 */
export const SECRET_REF = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Every classified kind masked unless the tenant says otherwise: the safe default. */
export const DEFAULT_MASKED: Classification[] = ['pii', 'financial', 'health', 'biometric'];

/**
 * Settings a tenant may store, or a validation error listing every problem. Enabling needs a
 * deployment (an http(s) URL without credentials in it), its jurisdiction and a public key.
 */
export function resolveLlmTracingSettings(
  tenantId: string,
  input: LlmTracingInput,
  jurisdictions: JurisdictionRegistry,
): LlmTracingSettings {
  const problems: { field: string; reason: string; message: string }[] = [];
  const settings: LlmTracingSettings = {
    tenantId,
    enabled: input.enabled ?? false,
    langfuseUrl: (input.langfuseUrl ?? '').trim(),
    langfuseJurisdiction: (input.langfuseJurisdiction ?? '').trim().toUpperCase(),
    publicKey: (input.publicKey ?? '').trim(),
    secretKeyRef: (input.secretKeyRef ?? '').trim(),
    maskedClassifications: [...new Set(input.maskedClassifications ?? DEFAULT_MASKED)],
  };
  if (settings.langfuseUrl) {
    let url: URL | undefined;
    try {
      url = new URL(settings.langfuseUrl);
    } catch {
      problems.push({ field: 'langfuse_url', reason: 'invalid', message: 'not a URL' });
    }
    if (url && !['http:', 'https:'].includes(url.protocol))
      problems.push({ field: 'langfuse_url', reason: 'invalid', message: 'must be http(s)' });
    if (url && (url.username || url.password))
      problems.push({
        field: 'langfuse_url',
        reason: 'invalid',
        message: 'must not carry credentials (keys are set apart)',
      });
  } else if (settings.enabled)
    problems.push({ field: 'langfuse_url', reason: 'required', message: 'required when enabled' });
  if (settings.langfuseJurisdiction) {
    if (!jurisdictions.isKnown(settings.langfuseJurisdiction))
      problems.push({
        field: 'langfuse_jurisdiction',
        reason: 'unknown',
        message: `${settings.langfuseJurisdiction} is not a known country or region`,
      });
  } else if (settings.enabled)
    problems.push({
      field: 'langfuse_jurisdiction',
      reason: 'required',
      message: 'required when enabled: where the deployment runs',
    });
  if (settings.enabled && !settings.publicKey)
    problems.push({ field: 'public_key', reason: 'required', message: 'required when enabled' });
  if (settings.secretKeyRef && !SECRET_REF.test(settings.secretKeyRef))
    problems.push({
      field: 'secret_key_ref',
      reason: 'invalid',
      message: 'a secret name: letters, digits, . _ - (128 at most), not starting with a dot',
    });
  else if (settings.enabled && !settings.secretKeyRef)
    problems.push({
      field: 'secret_key_ref',
      reason: 'required',
      message: "required when enabled: the name of the secret key in the deployment's secrets",
    });
  for (const c of settings.maskedClassifications)
    if (!(CLASSIFICATIONS as readonly string[]).includes(c))
      problems.push({
        field: 'masked_classifications',
        reason: 'unknown',
        message: `${c} is not one of ${CLASSIFICATIONS.join(', ')}`,
      });
  if (problems.length)
    throw new AionError('validation.invalid_argument', 'invalid LLM tracing settings', {
      details: problems,
    });
  return settings;
}

/** The data a traced LLM call carries. */
export interface DataContext {
  jurisdiction: string;
  classification: Classification;
}

/** sovereign-ai's answer: may data of this context go to that jurisdiction? */
export interface ResidencyPort {
  decide(
    data: DataContext,
    target: string,
  ): Promise<{ allowed: boolean; rule: string; reason: string }>;
}

export type LlmTraceDecision =
  { send: false; reason: string } | { send: true; mask: boolean; url: string; publicKey: string };

/**
 * Whether (and how) an LLM call with this data is traced: only for a tenant that opted in, only
 * to a deployment residency allows for the data (sovereign-ai decides, as for any other
 * transfer; unreachable means not sent), prompts and completions masked per classification.
 */
export async function decideLlmTrace(
  settings: LlmTracingSettings | undefined,
  data: DataContext,
  residency: ResidencyPort,
): Promise<LlmTraceDecision> {
  if (!settings?.enabled) return { send: false, reason: 'tenant has not opted in' };
  let verdict: Awaited<ReturnType<ResidencyPort['decide']>>;
  try {
    verdict = await residency.decide(data, settings.langfuseJurisdiction);
  } catch (err) {
    return {
      send: false,
      reason: `residency undecided (${err instanceof Error ? err.message : String(err)})`,
    };
  }
  if (!verdict.allowed)
    return {
      send: false,
      reason: `data of ${data.jurisdiction} may not go to ${settings.langfuseJurisdiction} (rule ${verdict.rule})`,
    };
  return {
    send: true,
    mask: settings.maskedClassifications.includes(data.classification),
    url: settings.langfuseUrl,
    publicKey: settings.publicKey,
  };
}

/** A prompt or completion as sent: itself, or only that it was there and its size. */
export function maskedContent(value: unknown, classification: Classification, mask: boolean) {
  return mask
    ? { masked: classification, bytes: Buffer.byteLength(JSON.stringify(value ?? null)) }
    : value;
}

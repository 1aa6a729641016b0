import { AionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Logger } from '@aion/telemetry';
import {
  decideLlmTrace,
  resolveLlmTracingSettings,
  type DataContext,
  type LlmTraceDecision,
  type LlmTracingInput,
  type LlmTracingSettings,
  type ResidencyPort,
} from './llm-tracing';

/** Where a tenant's settings are kept: never a secret, only the name one is held under. */
export interface LlmTracingStore {
  get(): Promise<LlmTracingSettings | undefined>;
  /** `secretKeySet` only goes into the change's event (the store cannot know it). */
  put(settings: LlmTracingSettings, secretKeySet: boolean): Promise<LlmTracingSettings>;
}

/**
 * The secrets the deployment provides, each a tenant's own: the source puts the tenant into
 * every name it reads, so no name a tenant gives reaches another tenant's secret.
 */
export interface TenantSecrets {
  /** Whether the deployment provides any (else enabling is refused, saying so). */
  readonly configured: boolean;
  /** The secret, or undefined when the tenant has none of that name. */
  read(tenantId: string, name: string): Promise<string | undefined>;
}

/** A tenant's settings as the API shows them: the secret key only as whether it is present. */
export type LlmTracingView = LlmTracingSettings & { secretKeySet: boolean };

/** The calling tenant's LLM tracing: its settings and the decision for each traced call. */
export class LlmTracingService {
  constructor(
    private readonly store: LlmTracingStore,
    private readonly secrets: TenantSecrets,
    private readonly residency: ResidencyPort,
    private readonly jurisdictions: JurisdictionRegistry,
    private readonly logger?: Logger,
  ) {}

  async get(tenantId: string): Promise<LlmTracingView> {
    const settings =
      (await this.store.get()) ?? resolveLlmTracingSettings(tenantId, {}, this.jurisdictions);
    return { ...settings, secretKeySet: await this.present(settings) };
  }

  /**
   * Enabling needs the named secret key to be present already: tracing that cannot work is
   * refused, as not found (404, as any other name that names nothing), saying where it was looked for.
   */
  async update(tenantId: string, input: LlmTracingInput): Promise<LlmTracingView> {
    const settings = resolveLlmTracingSettings(tenantId, input, this.jurisdictions);
    const present = await this.present(settings);
    if (settings.enabled && !present)
      throw new AionError(
        'resource.not_found',
        `secret key ${settings.secretKeyRef} was not found`,
        {
          details: [
            {
              field: 'secret_key_ref',
              reason: 'not_found',
              message: this.secrets.configured
                ? `no secret ${settings.secretKeyRef} of this tenant in the deployment's secrets (${tenantId}.${settings.secretKeyRef})`
                : 'this deployment provides no secrets (AION_OBSERVABILITY_SECRETS_DIR)',
            },
          ],
        },
      );
    const stored = await this.store.put(settings, present);
    this.logger?.info('LLM tracing settings updated', {
      tenant_id: tenantId,
      enabled: stored.enabled,
      langfuse_jurisdiction: stored.langfuseJurisdiction,
      secret_key_ref: stored.secretKeyRef,
      secret_key_set: present,
    });
    return { ...stored, secretKeySet: present };
  }

  /** A decision to send carries the secret key (read now: a rotated key is used at once). */
  async decide(data: DataContext): Promise<LlmTraceDecision & { secretKey?: string }> {
    const settings = await this.store.get();
    const decision = await decideLlmTrace(settings, data, this.residency);
    if (!decision.send) return decision;
    const { tenantId, secretKeyRef } = settings!;
    const secretKey = await this.secrets.read(tenantId, secretKeyRef);
    if (secretKey) return { ...decision, secretKey };
    // The operator's to fix (a Secret not mounted, a key removed): say which file is missing.
    this.logger?.warn("LLM trace not sent: the tenant's Langfuse secret key is missing", {
      tenant_id: tenantId,
      secret_key_ref: secretKeyRef,
      file: `${tenantId}.${secretKeyRef}`,
    });
    return { send: false, reason: `secret key ${secretKeyRef} is not in the deployment's secrets` };
  }

  private async present(settings: LlmTracingSettings): Promise<boolean> {
    if (!settings.secretKeyRef) return false;
    return (await this.secrets.read(settings.tenantId, settings.secretKeyRef)) !== undefined;
  }
}

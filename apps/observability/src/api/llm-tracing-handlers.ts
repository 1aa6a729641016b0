import type { DataClassification } from '@aion/contracts';
import { AionError } from '@aion/errors';
import type { CallContext } from '@aion/grpc';
import { requireTenant } from '@aion/tenancy';
import { CLASSIFICATIONS } from '../core/llm-tracing';
import type { LlmTracingService } from '../core/llm-tracing-service';
import { classificationOf, llmTracingSettingsProto } from '../proto';

interface SettingsMessage {
  enabled: boolean;
  langfuseUrl: string;
  langfuseJurisdiction: string;
  publicKey: string;
  /** Deprecated: refused when set (keys are named by secretKeyRef, never sent). */
  secretKey: string;
  secretKeyRef: string;
  unmaskedClassifications: DataClassification[];
}

/** GetLlmTracingSettings, UpdateLlmTracingSettings, DecideLlmTrace. */
export function llmTracingHandlers(service: LlmTracingService) {
  return {
    getLlmTracingSettings: async () => ({
      settings: llmTracingSettingsProto(await service.get(requireTenant().tenantId)),
    }),
    updateLlmTracingSettings: async (req: { settings?: SettingsMessage | undefined }) => {
      const s = req.settings;
      if (!s)
        throw AionError.validation('settings is required', [
          { field: 'settings', message: 'is required' },
        ]);
      const unknown = s.unmaskedClassifications.filter((c) => !classificationOf(c));
      const problems = [
        ...(s.secretKey
          ? [
              {
                field: 'settings.secret_key',
                message:
                  "no longer accepted: put the key in the deployment's secrets and name it with secret_key_ref",
              },
            ]
          : []),
        ...(unknown.length
          ? [
              {
                field: 'settings.unmasked_classifications',
                message: `unknown values ${unknown.join(', ')}`,
              },
            ]
          : []),
      ];
      // Never echoed: the refused key is not in the error either.
      if (problems.length) throw AionError.validation('invalid LLM tracing settings', problems);
      const unmasked = new Set(s.unmaskedClassifications.map(classificationOf));
      const view = await service.update(requireTenant().tenantId, {
        enabled: s.enabled,
        langfuseUrl: s.langfuseUrl,
        langfuseJurisdiction: s.langfuseJurisdiction,
        publicKey: s.publicKey,
        secretKeyRef: s.secretKeyRef,
        maskedClassifications: CLASSIFICATIONS.filter((c) => !unmasked.has(c)),
      });
      return { settings: llmTracingSettingsProto(view) };
    },
    decideLlmTrace: async (
      req: {
        dataContext?: { jurisdiction: string; classification: DataClassification } | undefined;
      },
      ctx: CallContext,
    ) => {
      // The answer carries the tenant's Langfuse secret key: for the orchestrator only.
      if (ctx.principal?.caller !== 'orchestrator')
        throw new AionError('auth.forbidden', 'LLM trace decisions are for the orchestrator only');
      const jurisdiction = (req.dataContext?.jurisdiction ?? '').toUpperCase();
      const classification = classificationOf(req.dataContext?.classification ?? 0);
      if (!jurisdiction || !classification)
        throw AionError.validation('data_context needs a jurisdiction and a classification', [
          ...(jurisdiction ? [] : [{ field: 'data_context.jurisdiction', message: 'is required' }]),
          ...(classification
            ? []
            : [{ field: 'data_context.classification', message: 'is required' }]),
        ]);
      const d = await service.decide({ jurisdiction, classification });
      return d.send
        ? {
            send: true,
            mask: d.mask,
            langfuseUrl: d.url,
            publicKey: d.publicKey,
            secretKey: d.secretKey ?? '',
          }
        : { send: false, reason: d.reason };
    },
  };
}

export const LLM_TRACING_ACCESS = {
  getLlmTracingSettings: 'platform:read',
  updateLlmTracingSettings: 'observability:manage',
  decideLlmTrace: 'platform:read',
} as const;

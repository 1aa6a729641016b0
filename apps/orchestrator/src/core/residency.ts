import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Engine } from './engines';

export const CLASSIFICATIONS = ['none', 'pii', 'financial', 'health', 'biometric'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export interface DataContext {
  jurisdiction: string;
  classification: Classification;
}

/** A model's entry in the tenant's sovereign registry. */
export interface RegisteredModel {
  id: string;
  modelRef: string;
  name: string;
  version: string;
  jurisdiction: string;
  status: 'PENDING' | 'APPROVED' | 'REJECTED' | 'REVOKED';
}

/** Where a piece of data may be processed, by which models, and which rule said so. */
export interface ResidencyDecision {
  /** Jurisdiction codes processing may happen in; 'any' when no rule restricts it so. */
  allowed: readonly string[] | 'any';
  /** Jurisdiction codes processing must not touch. */
  denied: readonly string[];
  /** The rule that decided (`default:<code>` for the fallback). */
  rule: string;
  /** Explanation of the decision, as the sovereign service words it. */
  reason: string;
  /** The tenant's registered models; when `approvalRequired`, unregistered ones are refused too. */
  models: readonly RegisteredModel[];
  approvalRequired: boolean;
}

/** The router's question to sovereign-ai: where may this data go, and with which models? */
export interface ResidencyPolicy {
  decide(tenantId: string, data: DataContext): Promise<ResidencyDecision>;
  /** The decision if it is at hand without asking anyone (a task may then start as it is accepted). */
  cached(tenantId: string, data: DataContext): ResidencyDecision | undefined;
}

/** Names an engine answers to in the registry: its own, its module's, and the model it would run. */
export function modelRefsOf(engine: Engine, requestedModel: string | undefined): string[] {
  if (engine.kind === 'module') return [engine.name, engine.module];
  const model =
    requestedModel && engine.models.includes(requestedModel) ? requestedModel : engine.models[0];
  return model ? [engine.name, model] : [engine.name];
}

export type ModelCheck =
  { ok: true; approval: RegisteredModel | undefined } | { ok: false; why: string };

const names = (m: RegisteredModel, refs: readonly string[]) =>
  refs.includes(m.id) || refs.includes(m.modelRef) || refs.includes(m.name);

/**
 * May this engine run for the tenant? An APPROVED registry entry covering the engine's
 * jurisdiction allows it; an entry that is PENDING, REJECTED or REVOKED where it runs forbids it;
 * a model the registry does not know is allowed unless approval is required.
 */
export function checkModel(
  decision: ResidencyDecision,
  engine: Engine,
  refs: readonly string[],
  jurisdictions: JurisdictionRegistry,
): ModelCheck {
  if (decision.models.length === 0)
    return decision.approvalRequired
      ? {
          ok: false,
          why: `model ${refs[refs.length - 1]} is not approved in the sovereign registry`,
        }
      : { ok: true, approval: undefined };
  const approval = decision.models.find(
    (m) =>
      m.status === 'APPROVED' &&
      names(m, refs) &&
      jurisdictions.covers([m.jurisdiction], engine.jurisdiction),
  );
  if (approval) return { ok: true, approval };
  const blocked = decision.models.find(
    (m) =>
      m.status !== 'APPROVED' &&
      names(m, refs) &&
      jurisdictions.overlaps(m.jurisdiction, engine.jurisdiction),
  );
  if (blocked)
    return {
      ok: false,
      why: `model ${blocked.modelRef}${blocked.version ? `@${blocked.version}` : ''} is ${blocked.status} for ${blocked.jurisdiction} in the sovereign registry`,
    };
  return decision.approvalRequired
    ? {
        ok: false,
        why: `model ${refs[refs.length - 1]} is not approved for ${engine.jurisdiction} in the sovereign registry`,
      }
    : { ok: true, approval: undefined };
}

import { AionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { approvalFor } from './model-registry';
import type { RegionalDeployment, RoutingPolicy, SovereignModel } from './model';
import type { ResidencyVerdict } from './residency-index';

export interface RouteInput {
  verdict: ResidencyVerdict;
  /** The tenant's deployments (any status). */
  deployments: readonly RegionalDeployment[];
  models: readonly SovereignModel[];
  /** Restrict to deployments of this model (registry id, reference or name); empty: any. */
  modelId: string;
  policy: RoutingPolicy | undefined;
}

export interface RouteOutcome {
  deployment: RegionalDeployment;
  usedFallback: boolean;
  reason: string;
}

/** Why a deployment cannot take this data, or undefined when it can. */
function unfit(
  d: RegionalDeployment,
  input: RouteInput,
  jurisdictions: JurisdictionRegistry,
): string | undefined {
  if (input.modelId && d.modelId !== input.modelId) {
    const named = input.models.find((m) => m.id === d.modelId || m.modelRef === d.modelId);
    if (!named || (named.id !== input.modelId && named.name !== input.modelId))
      return 'serves another model';
  }
  if (d.status !== 'ACTIVE') return `is ${d.status}`;
  if (!input.verdict.permits(d.jurisdiction))
    return `runs in ${d.jurisdiction}, which residency rule ${input.verdict.ruleId} does not allow`;
  if (!approvalFor(input.models, d.modelId, d.modelVersion, d.jurisdiction, jurisdictions))
    return `model ${d.modelId}${d.modelVersion ? `@${d.modelVersion}` : ''} is not approved in ${d.jurisdiction}`;
  return undefined;
}

const byAge = (a: RegionalDeployment, b: RegionalDeployment) =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1);

/**
 * Picks the deployment that processes a piece of data. Only ACTIVE deployments in jurisdictions
 * the residency verdict allows, serving a model APPROVED there, are ever picked.
 * - strict: only the policy's primary jurisdiction; none compliant and active there fails.
 * - preferred / fallback: the primary first, then each secondary in order; the reason says when
 *   it fell back and why the primary could not serve.
 * - no policy: the data's own jurisdiction first, then the oldest compliant deployment.
 */
export function chooseDeployment(
  input: RouteInput,
  jurisdictions: JurisdictionRegistry,
): RouteOutcome {
  const fit = input.deployments.filter((d) => !unfit(d, input, jurisdictions)).sort(byAge);
  const inside = (code: string) => fit.filter((d) => jurisdictions.covers([code], d.jurisdiction));
  const residency = `residency rule ${input.verdict.ruleId}`;
  const policy = input.policy;
  if (!policy) {
    const own = inside(input.verdict.data.jurisdiction)[0];
    const chosen = own ?? fit[0];
    if (chosen)
      return {
        deployment: chosen,
        usedFallback: false,
        reason: `${own ? 'compliant deployment in the data jurisdiction' : 'oldest compliant deployment'} ${chosen.id} in ${chosen.jurisdiction}; ${residency}`,
      };
    throw noDeployment(input, 'no routing policy', jurisdictions);
  }
  const primary = inside(policy.primaryJurisdiction)[0];
  if (primary)
    return {
      deployment: primary,
      usedFallback: false,
      reason: `policy ${policy.name} (${policy.strategy}): primary ${policy.primaryJurisdiction} deployment ${primary.id}; ${residency}`,
    };
  if (policy.strategy === 'strict')
    throw noDeployment(
      input,
      `policy ${policy.name} is strict and its primary ${policy.primaryJurisdiction} has no compliant active deployment`,
      jurisdictions,
    );
  for (const secondary of policy.secondaryJurisdictions) {
    const chosen = inside(secondary)[0];
    if (chosen)
      return {
        deployment: chosen,
        usedFallback: true,
        reason: `policy ${policy.name} (${policy.strategy}): primary ${policy.primaryJurisdiction} has no compliant active deployment, fell back to ${secondary} deployment ${chosen.id}; ${residency}`,
      };
  }
  throw noDeployment(
    input,
    `policy ${policy.name}: neither the primary ${policy.primaryJurisdiction} nor the secondaries (${policy.secondaryJurisdictions.join(', ') || 'none'}) have a compliant active deployment`,
    jurisdictions,
  );
}

function noDeployment(
  input: RouteInput,
  why: string,
  jurisdictions: JurisdictionRegistry,
): AionError {
  return new AionError(
    'sovereign.no_compliant_deployment',
    `no compliant deployment for ${input.verdict.data.classification} data from ${input.verdict.data.jurisdiction}: ${why}; ${input.verdict.reason}`,
    {
      details: input.deployments.map((d) => ({
        field: `deployments.${d.id}`,
        reason: 'excluded',
        message: `${d.jurisdiction}/${d.region}: ${unfit(d, input, jurisdictions) ?? 'compliant, but outside the policy'}`,
      })),
    },
  );
}

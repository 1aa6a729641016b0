import { AionError, type ErrorDetail } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Engine, RoutingPolicies } from './engines';
import type { DataContext, ResidencyDecision } from './residency';

export type Privacy = 'local-only' | 'allow-api' | 'hybrid';

export interface RouteRequest {
  intent: string;
  privacy: Privacy;
  /** The task's own cap (SLA budget_usd); 0 means none. */
  budgetUsd: number;
  /** What the tenant's budget still allows; undefined when it has no limit. */
  remainingBudgetUsd?: number | undefined;
  /** SLA p95 in ms; 0 means none. */
  p95Ms: number;
  preferredEngine?: string | undefined;
  /** A model the caller asked for: an engine's name or one of its models. */
  model?: string | undefined;
  estimate: { inputTokens: number; outputTokens: number };
  data: DataContext;
  residency: ResidencyDecision;
}

export interface RouterState {
  p95(engine: string): number | undefined;
  breakerOpen(engine: string): boolean;
  policies: RoutingPolicies;
}

export interface Candidate {
  engine: Engine;
  estimatedCostUsd: number;
  observedP95Ms: number | undefined;
}

export interface RouteDecision {
  /** Allowed engines, best first; the executor falls back down this list. */
  ranked: Candidate[];
  chosenBy: 'ai-router' | 'policy-override';
  reason: string;
  excluded: { engine: string; reason: string }[];
}

export function estimateCost(
  engine: Engine,
  estimate: { inputTokens: number; outputTokens: number },
): number {
  const p = engine.price_per_1k_tokens;
  return (estimate.inputTokens * p.input + estimate.outputTokens * p.output) / 1000;
}

const money = (usd: number) => `$${usd.toFixed(6).replace(/0+$/, '').replace(/\.$/, '')}`;

/**
 * The decision router, a pure function of engines, request and observed state. It removes
 * engines the privacy mode, intent, residency, budget, observed p95, breakers or per-intent
 * policy forbid, then ranks the rest deterministically: a policy-forced engine first, then the
 * preferred engine, then (hybrid) local tier before API tiers, then cheapest, then fastest,
 * then by name. Every decision says which rule decided.
 */
export function route(
  engines: readonly Engine[],
  request: RouteRequest,
  state: RouterState,
  jurisdictions: JurisdictionRegistry,
): RouteDecision {
  const policy = state.policies[request.intent];
  const excluded: { engine: string; reason: string; kind: string }[] = [];
  const allowed: Candidate[] = [];
  const budgetCap = Math.min(
    request.budgetUsd > 0 ? request.budgetUsd : Infinity,
    request.remainingBudgetUsd ?? Infinity,
  );
  for (const engine of engines) {
    const exclude = (kind: string, reason: string) =>
      excluded.push({ engine: engine.name, reason, kind });
    if (!engine.intents.includes(request.intent)) {
      exclude('intent', `does not serve intent ${request.intent}`);
      continue;
    }
    if (
      request.model &&
      engine.name !== request.model &&
      !(engine.kind === 'openai-compatible' && engine.models.includes(request.model))
    ) {
      exclude('model', `does not serve model ${request.model}`);
      continue;
    }
    if (request.privacy === 'local-only' && engine.tier !== 'local') {
      exclude('privacy', `tier ${engine.tier} is not allowed by privacy local-only`);
      continue;
    }
    if (policy?.forbid.includes(engine.name)) {
      exclude('policy', `forbidden by policy intents.${request.intent}.forbid`);
      continue;
    }
    if (
      request.residency.allowed !== 'any' &&
      !jurisdictions.covers(request.residency.allowed, engine.jurisdiction)
    ) {
      exclude(
        'residency',
        `runs in ${engine.jurisdiction}, but ${request.data.classification} data from ${request.data.jurisdiction} may only be processed in ${request.residency.allowed.join(', ')} (rule ${request.residency.rule})`,
      );
      continue;
    }
    const cost = estimateCost(engine, request.estimate);
    if (cost > budgetCap) {
      exclude(
        'budget',
        `estimated cost ${money(cost)} exceeds the remaining budget ${money(budgetCap)}`,
      );
      continue;
    }
    const observed = state.p95(engine.name);
    if (request.p95Ms > 0 && observed !== undefined && observed > request.p95Ms) {
      exclude(
        'latency',
        `observed p95 ${Math.round(observed)} ms exceeds sla.p95_ms ${request.p95Ms}`,
      );
      continue;
    }
    if (state.breakerOpen(engine.name)) {
      exclude('breaker', 'circuit breaker is open');
      continue;
    }
    allowed.push({ engine, estimatedCostUsd: cost, observedP95Ms: observed });
  }

  if (allowed.length === 0) {
    const serving = excluded.filter((e) => e.kind !== 'intent');
    const details: ErrorDetail[] = excluded.map((e) => ({
      field: `engines.${e.engine}`,
      reason: e.kind,
      message: e.reason,
    }));
    if (serving.length === 0)
      throw new AionError(
        'validation.no_allowed_engine',
        `no allowed engine serves ${request.intent}: no engine is configured for this intent`,
        { details },
      );
    if (serving.every((e) => e.kind === 'residency')) {
      throw new AionError(
        'sovereign.residency_violation',
        `no engine may process ${request.data.classification} data from ${request.data.jurisdiction} for ${request.intent}: rule ${request.residency.rule} allows only ${(request.residency.allowed as string[]).join(', ')}`,
        { details },
      );
    }
    throw new AionError(
      'validation.no_allowed_engine',
      `no allowed engine serves ${request.intent}: ${serving.map((e) => `${e.engine} (${e.reason})`).join('; ')}`,
      { details },
    );
  }

  const localFirst = request.privacy === 'hybrid';
  allowed.sort(
    (a, b) =>
      Number(b.engine.name === policy?.force) - Number(a.engine.name === policy?.force) ||
      Number(b.engine.name === request.preferredEngine) -
        Number(a.engine.name === request.preferredEngine) ||
      (localFirst ? Number(b.engine.tier === 'local') - Number(a.engine.tier === 'local') : 0) ||
      a.estimatedCostUsd - b.estimatedCostUsd ||
      (a.observedP95Ms ?? Infinity) - (b.observedP95Ms ?? Infinity) ||
      a.engine.name.localeCompare(b.engine.name),
  );
  const top = allowed[0]!;
  const residency =
    request.residency.allowed === 'any'
      ? `residency ${request.residency.rule}`
      : `residency rule ${request.residency.rule} (allows ${request.residency.allowed.join(', ')})`;
  const context = `privacy=${request.privacy}; ${residency}; ${excluded.filter((e) => e.kind !== 'intent').length} excluded`;
  if (policy?.force === top.engine.name) {
    return {
      ranked: allowed,
      chosenBy: 'policy-override',
      reason: `policy intents.${request.intent}.force chose ${top.engine.name}; ${context}`,
      excluded,
    };
  }
  if (policy?.force)
    excluded.push({
      engine: policy.force,
      reason: 'forced by policy but not allowed for this task',
      kind: 'policy',
    });
  const why =
    top.engine.name === request.preferredEngine
      ? `preferred engine ${top.engine.name} is allowed`
      : localFirst && top.engine.tier === 'local'
        ? `local tier first (privacy hybrid), then cheapest: ${top.engine.name} at ${money(top.estimatedCostUsd)}`
        : `cheapest allowed engine: ${top.engine.name} at ${money(top.estimatedCostUsd)}`;
  return { ranked: allowed, chosenBy: 'ai-router', reason: `${why}; ${context}`, excluded };
}

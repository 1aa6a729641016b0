import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { BreakerRegistry } from '@aion/resilience';
import type { BudgetPort } from './budget';
import type { Engine, RoutingPolicies } from './engines';
import type { LatencyWindows } from './latency';
import type { TaskRequestDoc } from './ports';
import type { ResidencyDecision } from './residency';
import { route, type RouteDecision } from './router';
import { estimateTokens, outputTokensFor } from './tokens';

/** A routed task: the router's decision, the estimate it priced, and the residency rule. */
export type Plan = Pick<RouteDecision, 'ranked' | 'chosenBy' | 'reason'> & {
  estimate: { inputTokens: number; outputTokens: number };
  rule: string;
};

export interface PlanDeps {
  budgets: BudgetPort;
  jurisdictions: JurisdictionRegistry;
  engines: readonly Engine[];
  policies: RoutingPolicies;
  latency: LatencyWindows;
  breakers: BreakerRegistry;
}

export const isFree = (engine: Engine) =>
  engine.price_per_1k_tokens.input === 0 && engine.price_per_1k_tokens.output === 0;

/** Routes a task: every engine that may serve it, best first, and why. */
export async function planTask(
  deps: PlanDeps,
  request: TaskRequestDoc,
  residency: ResidencyDecision,
): Promise<Plan> {
  const inputTokens = estimateTokens(request.params);
  const estimate = { inputTokens, outputTokens: outputTokensFor(request, inputTokens) };
  // Free engines cannot be excluded by budget: ask for the remaining budget only when an
  // engine that costs money could serve the task.
  const remainingBudgetUsd = deps.engines.some(
    (e) => e.intents.includes(request.intent) && !isFree(e),
  )
    ? await deps.budgets.remaining(request.project_id)
    : undefined;
  const decision = route(
    deps.engines,
    {
      intent: request.intent,
      privacy: request.sla.privacy,
      budgetUsd: request.sla.budget_usd,
      remainingBudgetUsd,
      p95Ms: request.sla.p95_ms,
      preferredEngine: request.preferred_engine,
      model: typeof request.params['model'] === 'string' ? request.params['model'] : undefined,
      estimate,
      data: request.data_context,
      residency,
    },
    {
      p95: (e) => deps.latency.p95(e),
      breakerOpen: (e) => deps.breakers.isOpen(e),
      policies: deps.policies,
    },
    deps.jurisdictions,
  );
  const { ranked, chosenBy, reason } = decision;
  return { ranked, chosenBy, reason, estimate, rule: residency.rule };
}

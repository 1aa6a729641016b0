import { AionError, type ErrorDetail } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Engine, RoutingPolicies } from './engines';
import {
  checkModel,
  modelRefsOf,
  type DataContext,
  type RegisteredModel,
  type ResidencyDecision,
} from './residency';

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
  /** The registry entry that approved the engine's model, if the registry knows it. */
  approval: RegisteredModel | undefined;
}

export interface RouteDecision {
  /** Allowed engines, best first; the executor falls back down this list. */
  ranked: Candidate[];
  chosenBy: 'ai-router' | 'policy-override';
  reason: string;
  /** Every engine left out and why (written on first read). */
  readonly excluded: { engine: string; reason: string; kind: string }[];
}

export function estimateCost(
  engine: Engine,
  estimate: { inputTokens: number; outputTokens: number },
): number {
  const p = engine.price_per_1k_tokens;
  return (estimate.inputTokens * p.input + estimate.outputTokens * p.output) / 1000;
}

const money = (usd: number) => `$${usd.toFixed(6).replace(/0+$/, '').replace(/\.$/, '')}`;

type ExclusionKind =
  | 'intent'
  | 'model'
  | 'privacy'
  | 'policy'
  | 'residency'
  | 'model_approval'
  | 'budget'
  | 'latency'
  | 'breaker';

const SOVEREIGN_KINDS: readonly ExclusionKind[] = ['residency', 'model_approval'];
/**
 * Exclusions that say the platform cannot serve now, not that the request asks the impossible:
 * an engine that would serve once its breaker closes or its latency recovers.
 */
const OUTAGE_KINDS: readonly ExclusionKind[] = ['breaker', 'latency'];

/** An exclusion; its sentence is written only when someone reads it. */
interface Exclusion {
  engine: Engine;
  kind: ExclusionKind;
  /** The number the sentence quotes (cost or observed p95), where it has one. */
  value: number;
  /** The sentence itself, where the check already wrote one (model approval). */
  note: string;
}

function describe(
  e: Exclusion,
  request: RouteRequest,
  budgetCap: number,
): { engine: string; reason: string; kind: string } {
  const allowed = request.residency.allowed;
  const reason = ((): string => {
    switch (e.kind) {
      case 'intent':
        return `does not serve intent ${request.intent}`;
      case 'model':
        return `does not serve model ${request.model ?? ''}`;
      case 'privacy':
        return `tier ${e.engine.tier} is not allowed by privacy local-only`;
      case 'policy':
        return `forbidden by policy intents.${request.intent}.forbid`;
      case 'residency':
        return request.residency.denied.length && allowed === 'any'
          ? `runs in ${e.engine.jurisdiction}, but ${request.data.classification} data from ${request.data.jurisdiction} must not be processed in ${request.residency.denied.join(', ')} (rule ${request.residency.rule})`
          : `runs in ${e.engine.jurisdiction}, but ${request.data.classification} data from ${request.data.jurisdiction} may only be processed in ${allowed === 'any' ? 'any' : allowed.join(', ')} (rule ${request.residency.rule})`;
      case 'model_approval':
        return e.note;
      case 'budget':
        return `estimated cost ${money(e.value)} exceeds the remaining budget ${money(budgetCap)}`;
      case 'latency':
        return `observed p95 ${Math.round(e.value)} ms exceeds sla.p95_ms ${request.p95Ms}`;
      case 'breaker':
        return 'circuit breaker is open';
    }
  })();
  return { engine: e.engine.name, reason, kind: e.kind };
}

/** An engine as the hot loop reads it: one monomorphic shape with what it compares precomputed. */
class Slot {
  readonly name: string;
  readonly local: boolean;
  readonly models: ReadonlySet<string>;
  constructor(readonly engine: Engine) {
    this.name = engine.name;
    this.local = engine.tier === 'local';
    this.models = new Set(engine.kind === 'openai-compatible' ? engine.models : []);
  }
}

/** An allowed engine; `group` orders forced, then preferred, then local (hybrid) first. */
class Ranked implements Candidate {
  readonly engine: Engine;
  constructor(
    readonly slot: Slot,
    readonly estimatedCostUsd: number,
    readonly observedP95Ms: number | undefined,
    readonly group: number,
    readonly approval: RegisteredModel | undefined,
  ) {
    this.engine = slot.engine;
  }
}

/** What the router derives from an engine list once per intent, not per decision. */
interface IntentIndex {
  serving: Slot[];
  notServing: Engine[];
}
const indexes = new WeakMap<readonly Engine[], Map<string, IntentIndex>>();

function indexOf(engines: readonly Engine[], intent: string): IntentIndex {
  let byIntent = indexes.get(engines);
  if (!byIntent) {
    byIntent = new Map();
    indexes.set(engines, byIntent);
  }
  let index = byIntent.get(intent);
  if (!index) {
    index = {
      serving: engines.filter((e) => e.intents.includes(intent)).map((e) => new Slot(e)),
      notServing: engines.filter((e) => !e.intents.includes(intent)),
    };
    byIntent.set(intent, index);
  }
  return index;
}

const rank = (a: Ranked, b: Ranked) =>
  b.group - a.group ||
  a.estimatedCostUsd - b.estimatedCostUsd ||
  (a.observedP95Ms ?? Infinity) - (b.observedP95Ms ?? Infinity) ||
  (a.slot.name < b.slot.name ? -1 : a.slot.name > b.slot.name ? 1 : 0);

/**
 * The decision router, a pure function of engines, request and observed state. It removes
 * engines the privacy mode, intent, residency, budget, observed p95, breakers or per-intent
 * policy forbid, then ranks the rest deterministically: a policy-forced engine first, then the
 * preferred engine, then (hybrid) local tier before API tiers, then cheapest, then fastest,
 * then by name. Every decision says which rule decided. It runs for every task, so the engine
 * list is indexed by intent once and exclusion sentences are only written when read.
 */
export function route(
  engines: readonly Engine[],
  request: RouteRequest,
  state: RouterState,
  jurisdictions: JurisdictionRegistry,
): RouteDecision {
  const policy = state.policies[request.intent];
  const index = indexOf(engines, request.intent);
  const exclusions = new Exclusions();
  const ranking: Ranked[] = [];
  const allowedCountries =
    request.residency.allowed === 'any'
      ? undefined
      : jurisdictions.union(request.residency.allowed);
  const denied = request.residency.denied;
  const registryMatters = request.residency.models.length > 0 || request.residency.approvalRequired;
  const budgetCap = Math.min(
    request.budgetUsd > 0 ? request.budgetUsd : Infinity,
    request.remainingBudgetUsd ?? Infinity,
  );
  const model = request.model;
  const localOnly = request.privacy === 'local-only';
  const localFirst = request.privacy === 'hybrid';
  const force = policy?.force;
  const forbid = policy?.forbid;
  const preferred = request.preferredEngine;
  const p95Limit = request.p95Ms;
  for (const slot of index.serving) {
    const engine = slot.engine;
    let kind: ExclusionKind | undefined;
    let value = 0;
    if (model && slot.name !== model && !slot.models.has(model)) kind = 'model';
    else if (localOnly && !slot.local) kind = 'privacy';
    else if (forbid?.includes(slot.name)) kind = 'policy';
    else if (
      (allowedCountries && !jurisdictions.within(allowedCountries, engine.jurisdiction)) ||
      (denied.length && denied.some((code) => jurisdictions.overlaps(code, engine.jurisdiction)))
    )
      kind = 'residency';
    if (kind) {
      exclusions.add(engine, kind, value);
      continue;
    }
    let approval: RegisteredModel | undefined;
    if (registryMatters) {
      const check = checkModel(
        request.residency,
        engine,
        modelRefsOf(engine, model),
        jurisdictions,
      );
      if (!check.ok) {
        exclusions.add(engine, 'model_approval', 0, check.why);
        continue;
      }
      approval = check.approval;
    }
    const cost = estimateCost(engine, request.estimate);
    const observed = state.p95(slot.name);
    if (cost > budgetCap) {
      kind = 'budget';
      value = cost;
    } else if (p95Limit > 0 && observed !== undefined && observed > p95Limit) {
      kind = 'latency';
      value = observed;
    } else if (state.breakerOpen(slot.name)) kind = 'breaker';
    if (kind) {
      exclusions.add(engine, kind, value);
      continue;
    }
    const group =
      (slot.name === force ? 4 : 0) +
      (slot.name === preferred ? 2 : 0) +
      (localFirst && slot.local ? 1 : 0);
    ranking.push(new Ranked(slot, cost, observed, group, approval));
  }

  const excludedList = () => exclusions.describe(request, budgetCap, index.notServing);

  if (ranking.length === 0) {
    const all = excludedList();
    const details: ErrorDetail[] = all.map((e) => ({
      field: `engines.${e.engine}`,
      reason: e.kind,
      message: e.reason,
    }));
    if (exclusions.engines.length === 0)
      throw new AionError(
        'validation.no_allowed_engine',
        `no allowed engine serves ${request.intent}: no engine is configured for this intent`,
        { details },
      );
    if (exclusions.kinds.every((kind) => SOVEREIGN_KINDS.includes(kind))) {
      const residencyOnly = exclusions.kinds.every((kind) => kind === 'residency');
      if (exclusions.kinds.includes('residency'))
        throw new AionError(
          'sovereign.residency_violation',
          `no engine may process ${request.data.classification} data from ${request.data.jurisdiction} for ${request.intent}: ${request.residency.reason || `rule ${request.residency.rule}`}${residencyOnly ? '' : '; the remaining engines run models the sovereign registry does not allow'}`,
          { details },
        );
      throw new AionError(
        'sovereign.model_not_approved',
        `no engine for ${request.intent} runs a model the sovereign registry allows: ${all
          .filter((e) => e.kind === 'model_approval')
          .map((e) => `${e.engine} (${e.reason})`)
          .join('; ')}`,
        { details },
      );
    }
    const why = all
      .filter((e) => e.kind !== 'intent')
      .map((e) => `${e.engine} (${e.reason})`)
      .join('; ');
    // A server-side outage is 503, retryable (the client is told when to try again), never a
    // 4xx that tells the client its request was wrong.
    if (exclusions.kinds.some((kind) => OUTAGE_KINDS.includes(kind)))
      throw new AionError(
        'service.unavailable',
        `no engine that may serve ${request.intent} is available now: ${why}`,
        { details },
      );
    throw new AionError(
      'validation.no_allowed_engine',
      `no allowed engine serves ${request.intent}: ${why}`,
      {
        details,
      },
    );
  }

  if (ranking.length > 1) ranking.sort(rank);
  const allowed: Candidate[] = ranking;
  const top = allowed[0]!;
  const residency =
    request.residency.allowed !== 'any'
      ? `residency rule ${request.residency.rule} (allows ${request.residency.allowed.join(', ')})`
      : request.residency.denied.length
        ? `residency rule ${request.residency.rule} (forbids ${request.residency.denied.join(', ')})`
        : `residency ${request.residency.rule}`;
  const context = `privacy=${request.privacy}; ${residency}; ${exclusions.engines.length} excluded`;
  const decision = (chosenBy: RouteDecision['chosenBy'], reason: string): RouteDecision =>
    new Decision(allowed, chosenBy, reason, excludedList, force, top.engine.name);
  if (force === top.engine.name)
    return decision(
      'policy-override',
      `policy intents.${request.intent}.force chose ${top.engine.name}; ${context}`,
    );
  const why =
    top.engine.name === preferred
      ? `preferred engine ${top.engine.name} is allowed`
      : localFirst && top.engine.tier === 'local'
        ? `local tier first (privacy hybrid), then cheapest: ${top.engine.name} at ${money(top.estimatedCostUsd)}`
        : `cheapest allowed engine: ${top.engine.name} at ${money(top.estimatedCostUsd)}`;
  return decision('ai-router', `${why}; ${context}`);
}

/** Exclusions as parallel columns (no object per excluded engine), described on demand. */
class Exclusions {
  readonly engines: Engine[] = [];
  readonly kinds: ExclusionKind[] = [];
  private readonly values: number[] = [];
  private readonly notes: string[] = [];
  private described: { engine: string; reason: string; kind: string }[] | undefined;

  add(engine: Engine, kind: ExclusionKind, value: number, note = ''): void {
    this.engines.push(engine);
    this.kinds.push(kind);
    this.values.push(value);
    this.notes.push(note);
  }

  describe(request: RouteRequest, budgetCap: number, notServing: readonly Engine[]) {
    if (!this.described) {
      this.described = this.engines.map((engine, i) =>
        describe(
          { engine, kind: this.kinds[i]!, value: this.values[i]!, note: this.notes[i]! },
          request,
          budgetCap,
        ),
      );
      for (const engine of notServing)
        this.described.push(
          describe({ engine, kind: 'intent', value: 0, note: '' }, request, budgetCap),
        );
    }
    return this.described;
  }
}

class Decision implements RouteDecision {
  constructor(
    readonly ranked: Candidate[],
    readonly chosenBy: RouteDecision['chosenBy'],
    readonly reason: string,
    private readonly list: () => { engine: string; reason: string; kind: string }[],
    private readonly force: string | undefined,
    private readonly chosen: string,
  ) {}

  get excluded() {
    const list = this.list();
    if (this.force && this.force !== this.chosen && !list.some((e) => e.engine === this.force))
      list.push({
        engine: this.force,
        reason: 'forced by policy but not allowed for this task',
        kind: 'policy',
      });
    return list;
  }
}

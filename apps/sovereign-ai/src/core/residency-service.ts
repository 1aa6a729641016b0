import { AionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { requireTenant } from '@aion/tenancy';
import {
  ACTIONS,
  TIERS,
  type DataContext,
  type PageWindow,
  type ResidencyRuleInput,
  type SovereignModel,
} from './model';
import type { DecisionLog, ModelStore, RuleStore } from './ports';
import { ResidencyIndex, type ResidencyVerdict } from './residency-index';
import { TenantCache } from './tenant-cache';

export interface ResidencySettings {
  defaultJurisdiction: string;
  maxRulesPerTenant: number;
  /** Longest a tenant's compiled rules and model list are reused without a change event. */
  cacheTtlMs: number;
  /** When true, models must be APPROVED to be used; otherwise only registered, unapproved ones are blocked. */
  requireModelApproval: boolean;
}

export interface Enforcement {
  verdict: ResidencyVerdict;
  /** Whether any candidate may be used (true when no candidates were given). */
  allowed: boolean;
  /** The candidates allowed, or (no candidates) the codes the rule allows. */
  allowedJurisdictions: string[];
  approvedModels: SovereignModel[];
  blockedModels: SovereignModel[];
}

interface TenantState {
  index: ResidencyIndex;
  models: SovereignModel[];
}

const MAX_TARGETS = 100;

/** Residency rules: their CRUD, the compiled per-tenant index and enforcement. */
export class ResidencyService {
  private readonly state: TenantCache<TenantState>;

  constructor(
    private readonly rules: RuleStore,
    private readonly models: ModelStore,
    private readonly decisions: DecisionLog,
    private readonly jurisdictions: JurisdictionRegistry,
    readonly settings: ResidencySettings,
  ) {
    this.state = new TenantCache(settings.cacheTtlMs);
  }

  /** A change event (from any replica) for this tenant: rebuild on next use. */
  invalidate(tenantId: string): void {
    this.state.invalidate(tenantId);
  }

  private tenantState(): Promise<TenantState> {
    const { tenantId } = requireTenant();
    return this.state.get(tenantId, async () => ({
      index: new ResidencyIndex(
        await this.rules.all(),
        this.jurisdictions,
        this.settings.defaultJurisdiction,
      ),
      models: await this.models.all(),
    }));
  }

  normalizeData(data: { jurisdiction: string; classification: string }): DataContext {
    const jurisdiction = data.jurisdiction
      ? this.jurisdictions.normalize(data.jurisdiction, 'data_context.jurisdiction')
      : this.settings.defaultJurisdiction;
    return { jurisdiction, classification: data.classification as DataContext['classification'] };
  }

  async verdict(data: DataContext): Promise<ResidencyVerdict> {
    return (await this.tenantState()).index.decide(data);
  }

  async enforce(data: DataContext, candidates: string[], taskId: string): Promise<Enforcement> {
    const state = await this.tenantState();
    const verdict = state.index.decide(data);
    const codes = candidates.map((c, i) =>
      this.jurisdictions.normalize(c, `candidate_jurisdictions[${i}]`),
    );
    const permitted = codes.filter((c) => verdict.permits(c));
    const allowed = codes.length === 0 || permitted.length > 0;
    if (codes.length > 0)
      await this.decisions.record({
        taskId,
        dataJurisdiction: data.jurisdiction,
        classification: data.classification,
        attempted: codes,
        ruleId: verdict.ruleId,
        allowed,
        reason: verdict.reason,
      });
    return {
      verdict,
      allowed,
      allowedJurisdictions: codes.length ? permitted : [...verdict.allowedCodes],
      approvedModels: state.models.filter((m) => m.status === 'APPROVED'),
      blockedModels: state.models.filter((m) => m.status !== 'APPROVED'),
    };
  }

  async status() {
    const [state, lastDay] = await Promise.all([this.tenantState(), this.decisions.lastDay()]);
    return {
      ruleCount: state.index.size,
      maxRules: this.settings.maxRulesPerTenant,
      defaultJurisdiction: this.settings.defaultJurisdiction,
      ...lastDay,
    };
  }

  list(window: PageWindow) {
    return this.rules.page(window);
  }

  async get(id: string) {
    const rule = await this.rules.get(id);
    if (!rule) throw new AionError('resource.not_found', `residency rule ${id} not found`);
    return rule;
  }

  async create(input: ResidencyRuleInput) {
    const created = await this.rules.create(this.validate(input), this.settings.maxRulesPerTenant);
    if (created === 'limit')
      throw new AionError(
        'sovereign.rule_limit_exceeded',
        `a tenant may have at most ${this.settings.maxRulesPerTenant} residency rules (AION_SOVEREIGN_MAX_RESIDENCY_RULES_PER_TENANT); delete one first`,
      );
    this.invalidate(created.tenantId);
    return created;
  }

  async update(id: string, input: ResidencyRuleInput) {
    const updated = await this.rules.update(id, this.validate(input));
    if (!updated) throw new AionError('resource.not_found', `residency rule ${id} not found`);
    this.invalidate(updated.tenantId);
    return updated;
  }

  async remove(id: string) {
    if (!(await this.rules.remove(id)))
      throw new AionError('resource.not_found', `residency rule ${id} not found`);
    this.invalidate(requireTenant().tenantId);
  }

  /** Every problem at once, each naming its field. */
  validate(input: ResidencyRuleInput): ResidencyRuleInput {
    const problems: { field: string; message: string }[] = [];
    const code = (value: string, field: string) => {
      try {
        return this.jurisdictions.normalize(value, field);
      } catch (err) {
        problems.push({ field, message: err instanceof Error ? err.message : String(err) });
        return value;
      }
    };
    const dataJurisdiction = code(input.dataJurisdiction, 'data_jurisdiction');
    if (!(TIERS as readonly string[]).includes(input.tier))
      problems.push({ field: 'tier', message: `one of ${TIERS.join(', ')}` });
    if (!(ACTIONS as readonly string[]).includes(input.action))
      problems.push({ field: 'action', message: `one of ${ACTIONS.join(', ')}` });
    const targets = input.targetJurisdictions.map((t, i) => code(t, `target_jurisdictions[${i}]`));
    if (input.action === 'require_local' && targets.length)
      problems.push({ field: 'target_jurisdictions', message: 'must be empty for require_local' });
    if (input.action !== 'require_local' && targets.length === 0)
      problems.push({ field: 'target_jurisdictions', message: `at least one for ${input.action}` });
    if (targets.length > MAX_TARGETS)
      problems.push({ field: 'target_jurisdictions', message: `at most ${MAX_TARGETS}` });
    if (!Number.isInteger(input.priority) || input.priority < 0 || input.priority > 1_000_000)
      problems.push({ field: 'priority', message: 'an integer from 0 to 1000000' });
    if (input.description.length > 2000)
      problems.push({ field: 'description', message: 'at most 2000 characters' });
    if (problems.length)
      throw AionError.validation(
        `the residency rule is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
        problems,
      );
    return { ...input, dataJurisdiction, targetJurisdictions: [...new Set(targets)] };
  }
}

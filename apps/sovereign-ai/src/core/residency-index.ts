import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { DataClass, DataContext, ResidencyAction, ResidencyRule } from './model';
import { DATA_CLASSES } from './model';

/** A rule as the hot loop reads it: the countries its data jurisdiction stands for, precomputed. */
class CompiledRule {
  readonly covers: ReadonlySet<string>;
  readonly allowed: ReadonlySet<string> | undefined;
  readonly denied: ReadonlySet<string> | undefined;
  constructor(
    readonly rule: ResidencyRule,
    jurisdictions: JurisdictionRegistry,
  ) {
    this.covers = jurisdictions.countriesOf(rule.dataJurisdiction);
    this.allowed =
      rule.action === 'allow' ? jurisdictions.union(rule.targetJurisdictions) : undefined;
    this.denied =
      rule.action === 'deny' ? jurisdictions.union(rule.targetJurisdictions) : undefined;
  }
}

/**
 * Where one piece of data may be processed and which rule said so. `permits` answers for a
 * target jurisdiction (a country, or a region: every one of its countries must be allowed).
 * The sentence explaining it is only written when read.
 */
export class ResidencyVerdict {
  constructor(
    /** Rule id, or `default:<jurisdiction>` when no rule matched. */
    readonly ruleId: string,
    readonly action: ResidencyAction | 'default',
    readonly data: DataContext,
    /** Codes processing may happen in (allow, require_local); empty when not restricted so. */
    readonly allowedCodes: readonly string[],
    /** Codes processing must not touch (deny). */
    readonly deniedCodes: readonly string[],
    private readonly allowed: ReadonlySet<string> | undefined,
    private readonly denied: ReadonlySet<string> | undefined,
    private readonly jurisdictions: JurisdictionRegistry,
    /** Set when the rule came from the default jurisdiction because none matched the data's. */
    readonly viaDefault: string | undefined,
  ) {}

  get unrestricted(): boolean {
    return this.allowed === undefined && this.denied === undefined;
  }

  permits(target: string): boolean {
    const countries = this.jurisdictions.countriesOf(target);
    if (countries.size === 0) return false;
    if (this.allowed) for (const c of countries) if (!this.allowed.has(c)) return false;
    if (this.denied) for (const c of countries) if (this.denied.has(c)) return false;
    return true;
  }

  get reason(): string {
    const what = `${this.data.classification} data from ${this.data.jurisdiction}`;
    const via = this.viaDefault
      ? ` (no rule for ${this.data.jurisdiction}; the default jurisdiction ${this.viaDefault}'s rule applies)`
      : '';
    switch (this.action) {
      case 'allow':
        return `rule ${this.ruleId}${via}: ${what} may be processed only in ${this.allowedCodes.join(', ')}`;
      case 'deny':
        return `rule ${this.ruleId}${via}: ${what} must not be processed in ${this.deniedCodes.join(', ')}`;
      case 'require_local':
        return `rule ${this.ruleId}${via}: ${what} must be processed in ${this.data.jurisdiction}`;
      case 'default':
        return `no residency rule matches ${what} or the default jurisdiction ${this.ruleId.slice('default:'.length)}: unrestricted (${this.ruleId})`;
    }
  }
}

/**
 * A tenant's residency rules compiled once per change into one list per data class, in
 * evaluation order (priority, then age, then id), so a decision is a scan of set lookups.
 * First match decides; no match falls back to the default jurisdiction's rules; no match there
 * leaves the data unrestricted (`default:<jurisdiction>`).
 */
export class ResidencyIndex {
  private readonly byClass: Map<DataClass, CompiledRule[]>;
  readonly size: number;

  constructor(
    rules: readonly ResidencyRule[],
    private readonly jurisdictions: JurisdictionRegistry,
    private readonly defaultJurisdiction: string,
  ) {
    this.size = rules.length;
    const ordered = [...rules].sort(evaluationOrder).map((r) => new CompiledRule(r, jurisdictions));
    this.byClass = new Map(
      DATA_CLASSES.map((cls) => [
        cls,
        ordered.filter((r) => r.rule.tier === 'all' || r.rule.tier === cls),
      ]),
    );
  }

  decide(data: DataContext): ResidencyVerdict {
    const rules = this.byClass.get(data.classification) ?? [];
    const own = this.firstMatch(rules, data.jurisdiction);
    if (own) return this.verdict(own, data, undefined);
    const fallback = this.firstMatch(rules, this.defaultJurisdiction);
    if (fallback) return this.verdict(fallback, data, this.defaultJurisdiction);
    return new ResidencyVerdict(
      `default:${this.defaultJurisdiction}`,
      'default',
      data,
      [],
      [],
      undefined,
      undefined,
      this.jurisdictions,
      undefined,
    );
  }

  private firstMatch(rules: readonly CompiledRule[], jurisdiction: string) {
    const countries = this.jurisdictions.countriesOf(jurisdiction);
    if (countries.size === 0) return undefined;
    outer: for (const compiled of rules) {
      for (const c of countries) if (!compiled.covers.has(c)) continue outer;
      return compiled;
    }
    return undefined;
  }

  private verdict(compiled: CompiledRule, data: DataContext, viaDefault: string | undefined) {
    const { rule } = compiled;
    const local = rule.action === 'require_local';
    return new ResidencyVerdict(
      rule.id,
      rule.action,
      data,
      local ? [data.jurisdiction] : rule.action === 'allow' ? rule.targetJurisdictions : [],
      rule.action === 'deny' ? rule.targetJurisdictions : [],
      local ? this.jurisdictions.countriesOf(data.jurisdiction) : compiled.allowed,
      compiled.denied,
      this.jurisdictions,
      viaDefault,
    );
  }
}

/** Lower priority first; ties by creation time, then id, so the order never depends on storage. */
export function evaluationOrder(a: ResidencyRule, b: ResidencyRule): number {
  return (
    a.priority - b.priority ||
    a.createdAt.getTime() - b.createdAt.getTime() ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

import { prometheusRule, type AlertRule } from './alert-rules';
import { sloRules, type RuleFile } from './burn-rate';
import type { Page, PageWindow, Slo } from './model';

/** Where a tenant's rules go for Prometheus to load; an empty file removes them. */
export interface RuleSink {
  write(tenantId: string, file: RuleFile): Promise<void>;
}

/** Reads of the tenant in context that the sync needs, and where it records the outcome. */
export interface RuleSources {
  slos(window: PageWindow): Promise<Page<Slo>>;
  alertRules(window: PageWindow): Promise<Page<AlertRule>>;
  markAlertRules(status: 'synced' | 'failed', error: string): Promise<void>;
}

const PAGE = 200;

async function all<T>(read: (w: PageWindow) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await read({ offset, limit: PAGE });
    items.push(...page.items);
    if (page.items.length < PAGE || items.length >= page.total) return items;
  }
}

/** A tenant's whole rule file: each SLO's group, then one group of its custom rules. */
export function tenantRuleFile(tenantId: string, slos: Slo[], rules: AlertRule[]): RuleFile {
  return {
    groups: [
      ...slos.flatMap((s) => sloRules(s).groups),
      ...(rules.length
        ? [{ name: `aion-tenant-${tenantId}-custom`, rules: rules.map(prometheusRule) }]
        : []),
    ],
  };
}

/**
 * Rewrites a tenant's rule file after any change of its SLOs or alert rules (the file holds all
 * of them, so a sync is whole and a lost one is repaired by the next). A failed sync is recorded
 * on the rules (sync_status failed, sync_error) and not thrown: the change itself is committed.
 */
export class RuleSync {
  /** One sync per tenant at a time on this replica: a slower older one cannot overwrite a newer. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly sources: RuleSources,
    private readonly sink: RuleSink,
  ) {}

  syncTenant(tenantId: string): Promise<void> {
    const next = (this.running.get(tenantId) ?? Promise.resolve()).then(() => this.sync(tenantId));
    this.running.set(tenantId, next);
    void next.finally(() => {
      if (this.running.get(tenantId) === next) this.running.delete(tenantId);
    });
    return next;
  }

  private async sync(tenantId: string): Promise<void> {
    const [slos, rules] = await Promise.all([
      all((w) => this.sources.slos(w)),
      all((w) => this.sources.alertRules(w)),
    ]);
    try {
      await this.sink.write(tenantId, tenantRuleFile(tenantId, slos, rules));
      if (rules.length) await this.sources.markAlertRules('synced', '');
    } catch (err) {
      if (rules.length)
        await this.sources.markAlertRules('failed', (err as Error).message.slice(0, 1000));
    }
  }
}

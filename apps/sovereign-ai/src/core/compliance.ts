import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { ComplianceData, RegulationData } from './compliance-data';

export interface ComplianceMap {
  jurisdiction: string;
  regulations: RegulationData[];
  adequateJurisdictions: string[];
  /** What a deployment in this jurisdiction must be configured with, derived from the regulations. */
  deploymentConfig: Record<string, unknown>;
  /** Where the answer came from: the tenant's override, the operator's file, or the starter set. */
  source: 'tenant' | 'platform';
}

/** The tenant's own overrides (RLS by tenant). */
export interface ComplianceOverrides {
  get(jurisdiction: string): Promise<ComplianceData | undefined>;
  put(jurisdiction: string, data: ComplianceData): Promise<void>;
}

/** Derives what a deployment must look like from the regulations that apply. */
export function deploymentConfigOf(jurisdiction: string, data: ComplianceData) {
  const localization = data.regulations.some((r) => r.localization_required);
  const retention = data.regulations.map((r) => r.retention_days).filter((d) => d > 0);
  return {
    data_localization: localization,
    processing_jurisdictions: localization
      ? [jurisdiction]
      : [...new Set([jurisdiction, ...data.adequate_jurisdictions])],
    encryption: {
      at_rest: data.regulations.some((r) => r.encryption_at_rest) ? 'required' : 'recommended',
      in_transit: data.regulations.some((r) => r.encryption_in_transit) ? 'tls1.2+' : 'recommended',
    },
    retention_days: retention.length ? Math.min(...retention) : 0,
    transfer_mechanisms: [...new Set(data.regulations.flatMap((r) => r.transfer_mechanisms))],
  };
}

/**
 * Answers "which rules apply to data in this jurisdiction": the tenant's override for the exact
 * code, else the platform's map for the code merged with the maps of every region containing it
 * (DE gets GDPR through EU). Answers are cached per tenant and code for `ttlMs`; a tenant's
 * override clears its cached answer for that code.
 */
export class ComplianceCatalog {
  private readonly cache = new Map<string, { map: ComplianceMap; expires: number }>();

  constructor(
    private readonly platform: Readonly<Record<string, ComplianceData>>,
    private readonly jurisdictions: JurisdictionRegistry,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(
    tenantId: string,
    jurisdiction: string,
    overrides: ComplianceOverrides,
  ): Promise<{ map: ComplianceMap; fromCache: boolean }> {
    const key = `${tenantId}|${jurisdiction}`;
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) return { map: hit.map, fromCache: true };
    const own = await overrides.get(jurisdiction);
    const map = own
      ? this.build(jurisdiction, own, 'tenant')
      : this.build(jurisdiction, this.platformData(jurisdiction), 'platform');
    this.cache.set(key, { map, expires: this.now() + this.ttlMs });
    return { map, fromCache: false };
  }

  async put(
    tenantId: string,
    jurisdiction: string,
    data: ComplianceData,
    overrides: ComplianceOverrides,
  ): Promise<ComplianceMap> {
    await overrides.put(jurisdiction, data);
    this.cache.delete(`${tenantId}|${jurisdiction}`);
    return this.build(jurisdiction, data, 'tenant');
  }

  private platformData(jurisdiction: string): ComplianceData {
    const codes = [
      jurisdiction,
      ...this.jurisdictions
        .regionCodes()
        .filter(
          (region) => region !== jurisdiction && this.jurisdictions.covers([region], jurisdiction),
        ),
    ];
    const regulations = new Map<string, RegulationData>();
    const adequate = new Set<string>();
    for (const code of codes) {
      const data = this.platform[code];
      if (!data) continue;
      for (const r of data.regulations) if (!regulations.has(r.name)) regulations.set(r.name, r);
      for (const a of data.adequate_jurisdictions) adequate.add(a);
    }
    return { regulations: [...regulations.values()], adequate_jurisdictions: [...adequate] };
  }

  private build(jurisdiction: string, data: ComplianceData, source: ComplianceMap['source']) {
    return {
      jurisdiction,
      regulations: data.regulations,
      adequateJurisdictions: data.adequate_jurisdictions,
      deploymentConfig: deploymentConfigOf(jurisdiction, data),
      source,
    };
  }
}

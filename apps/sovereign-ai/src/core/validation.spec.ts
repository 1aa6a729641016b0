import { JurisdictionRegistry } from '@aion/jurisdictions';
import { runWithTenant } from '@aion/tenancy';
import { ComplianceCatalog, type ComplianceOverrides } from './compliance';
import { STARTER_COMPLIANCE, type ComplianceData } from './compliance-data';
import type { ResidencyRule, ResidencyRuleInput } from './model';
import type { DecisionLog, ModelStore, RuleStore } from './ports';
import { PolicyService } from './policy-service';
import { ResidencyService } from './residency-service';

const jurisdictions = new JurisdictionRegistry();
const settings = {
  defaultJurisdiction: 'US',
  maxRulesPerTenant: 2,
  cacheTtlMs: 60_000,
  requireModelApproval: false,
};

/** In-memory stores: enough to drive the service's own logic. */
function stores() {
  const rules: ResidencyRule[] = [];
  const ruleStore: Pick<RuleStore, 'all' | 'create'> = {
    all: async () => [...rules],
    create: async (input, max) => {
      if (rules.length >= max) return 'limit';
      const rule = {
        ...input,
        id: `r${rules.length}`,
        tenantId: 't',
        createdAt: new Date(),
        updatedAt: new Date(),
      };
      rules.push(rule);
      return rule;
    },
  };
  const models: Pick<ModelStore, 'all'> = { all: async () => [] };
  const decisions: DecisionLog = {
    record: async () => undefined,
    lastDay: async () => ({ decisions: 0, violations: 0 }),
  };
  return { rules: ruleStore as RuleStore, models: models as ModelStore, decisions };
}
const tenant = { tenantId: 't', subject: 'ops', roles: ['admin'], requestId: 'r' };
const input = (over: Partial<ResidencyRuleInput>): ResidencyRuleInput => ({
  dataJurisdiction: 'de',
  tier: 'pii',
  action: 'allow',
  targetJurisdictions: ['eu', 'EU'],
  priority: 1,
  description: '',
  ...over,
});

describe('residency rule validation', () => {
  const { rules, models, decisions } = stores();
  const service = new ResidencyService(rules, models, decisions, jurisdictions, settings);

  it('normalizes codes and removes duplicate targets', () => {
    expect(service.validate(input({}))).toMatchObject({
      dataJurisdiction: 'DE',
      targetJurisdictions: ['EU'],
    });
  });

  it('lists every problem at once, naming unknown codes', () => {
    try {
      service.validate(
        input({
          dataJurisdiction: 'XX',
          tier: 'secret' as 'pii',
          targetJurisdictions: ['QQ'],
          priority: -1,
        }),
      );
      throw new Error('expected a validation error');
    } catch (err) {
      const e = err as { code: string; message: string; details: { field: string }[] };
      expect(e.code).toBe('validation.invalid_argument');
      expect(e.details.map((d) => d.field)).toEqual([
        'data_jurisdiction',
        'tier',
        'target_jurisdictions[0]',
        'priority',
      ]);
      expect(e.message).toContain('"XX"');
    }
  });

  it('requires targets for allow and deny and refuses them for require_local', () => {
    expect(() => service.validate(input({ action: 'deny', targetJurisdictions: [] }))).toThrow(
      /at least one for deny/,
    );
    expect(() => service.validate(input({ action: 'require_local' }))).toThrow(
      /must be empty for require_local/,
    );
  });

  it('refuses the rule past the per-tenant limit with a clear error, and recompiles after a change', async () => {
    await runWithTenant(tenant, async () => {
      expect((await service.verdict({ jurisdiction: 'DE', classification: 'pii' })).ruleId).toBe(
        'default:US',
      );
      await service.create(input({}));
      expect((await service.verdict({ jurisdiction: 'DE', classification: 'pii' })).ruleId).toBe(
        'r0',
      );
      await service.create(input({ dataJurisdiction: 'FR' }));
      await expect(service.create(input({ dataJurisdiction: 'IT' }))).rejects.toMatchObject({
        code: 'sovereign.rule_limit_exceeded',
        message: expect.stringContaining('at most 2 residency rules'),
      });
    });
  });
});

describe('routing policy validation', () => {
  const policies = new PolicyService({} as never, jurisdictions);
  it('accepts strict with a primary only, preferred with secondaries', () => {
    expect(
      policies.validate({
        name: 'eu',
        strategy: 'strict',
        primaryJurisdiction: 'de',
        secondaryJurisdictions: [],
      }),
    ).toMatchObject({ primaryJurisdiction: 'DE' });
    expect(
      policies.validate({
        name: 'eu',
        strategy: 'fallback',
        primaryJurisdiction: 'DE',
        secondaryJurisdictions: ['fr'],
      }).secondaryJurisdictions,
    ).toEqual(['FR']);
  });
  it('refuses secondaries on strict, unknown strategies and codes', () => {
    expect(() =>
      policies.validate({
        name: 'x',
        strategy: 'strict',
        primaryJurisdiction: 'DE',
        secondaryJurisdictions: ['FR'],
      }),
    ).toThrow(/strict policy has no secondaries/);
    expect(() =>
      policies.validate({
        name: '',
        strategy: 'round-robin' as 'strict',
        primaryJurisdiction: 'ZZ',
        secondaryJurisdictions: [],
      }),
    ).toThrow(
      expect.objectContaining({
        details: [
          expect.objectContaining({ field: 'name' }),
          expect.objectContaining({ field: 'strategy' }),
          expect.objectContaining({ field: 'primary_jurisdiction' }),
        ],
      }),
    );
  });
});

describe('ComplianceCatalog', () => {
  const none: ComplianceOverrides = { get: async () => undefined, put: async () => undefined };
  it("gives member countries their regions' regulations and caches answers for the TTL", async () => {
    let now = 0;
    const catalog = new ComplianceCatalog(STARTER_COMPLIANCE, jurisdictions, 1_000, () => now);
    const first = await catalog.get('t', 'FR', none);
    expect(first).toMatchObject({
      fromCache: false,
      map: { regulations: [expect.objectContaining({ name: 'GDPR' })] },
    });
    expect(first.map.deploymentConfig).toMatchObject({
      data_localization: false,
      encryption: { at_rest: 'required' },
    });
    expect((await catalog.get('t', 'FR', none)).fromCache).toBe(true);
    now = 1_001;
    expect((await catalog.get('t', 'FR', none)).fromCache).toBe(false);
  });

  it("prefers the tenant's override and forgets the cached answer when it changes", async () => {
    const saved = new Map<string, ComplianceData>();
    const overrides: ComplianceOverrides = {
      get: async (j) => saved.get(j),
      put: async (j, d) => void saved.set(j, d),
    };
    const catalog = new ComplianceCatalog(STARTER_COMPLIANCE, jurisdictions, 60_000);
    expect((await catalog.get('t', 'IN', overrides)).map.regulations[0]!.name).toBe('DPDP');
    await catalog.put(
      't',
      'IN',
      {
        regulations: [
          {
            ...STARTER_COMPLIANCE['IN']!.regulations[0]!,
            name: 'DPDP + sector rules',
            localization_required: true,
          },
        ],
        adequate_jurisdictions: [],
      },
      overrides,
    );
    const after = await catalog.get('t', 'IN', overrides);
    expect(after).toMatchObject({
      fromCache: false,
      map: {
        source: 'tenant',
        deploymentConfig: { data_localization: true, processing_jurisdictions: ['IN'] },
      },
    });
  });
});

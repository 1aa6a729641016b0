import { JurisdictionRegistry } from '@aion/jurisdictions';
import type { ResidencyRule } from './model';
import { ResidencyIndex } from './residency-index';

const jurisdictions = new JurisdictionRegistry();
let seq = 0;
const rule = (r: Partial<ResidencyRule>): ResidencyRule => ({
  id: `r${++seq}`,
  tenantId: 't',
  dataJurisdiction: 'DE',
  tier: 'pii',
  action: 'allow',
  targetJurisdictions: ['EU'],
  priority: 100,
  description: '',
  createdAt: new Date(1_000 + seq),
  updatedAt: new Date(1_000 + seq),
  ...r,
});
const index = (rules: ResidencyRule[], fallback = 'US') =>
  new ResidencyIndex(rules, jurisdictions, fallback);

describe('ResidencyIndex', () => {
  it('evaluates lower priority numbers first and lets the first match decide', () => {
    const late = rule({ id: 'late', priority: 50, action: 'require_local' });
    const early = rule({ id: 'early', priority: 10, targetJurisdictions: ['EU'] });
    const verdict = index([late, early]).decide({ jurisdiction: 'DE', classification: 'pii' });
    expect(verdict.ruleId).toBe('early');
    expect(verdict.permits('FR')).toBe(true);
    expect(verdict.permits('US')).toBe(false);
  });

  it('orders equal priorities by age, then id, whatever the input order', () => {
    const a = rule({
      id: 'b-older',
      priority: 5,
      createdAt: new Date(1),
      targetJurisdictions: ['FR'],
    });
    const b = rule({
      id: 'a-newer',
      priority: 5,
      createdAt: new Date(2),
      targetJurisdictions: ['IT'],
    });
    expect(index([b, a]).decide({ jurisdiction: 'DE', classification: 'pii' }).ruleId).toBe(
      'b-older',
    );
  });

  it('matches tier all for every classification, including unclassified data', () => {
    const all = rule({ id: 'all', tier: 'all', action: 'require_local' });
    for (const classification of ['none', 'pii', 'health', 'financial', 'biometric'] as const) {
      const verdict = index([all]).decide({ jurisdiction: 'DE', classification });
      expect(verdict.ruleId).toBe('all');
      expect(verdict.permits('DE')).toBe(true);
      expect(verdict.permits('FR')).toBe(false);
    }
  });

  it('does not match other tiers', () => {
    const health = rule({ id: 'health', tier: 'health' });
    expect(index([health]).decide({ jurisdiction: 'DE', classification: 'pii' }).ruleId).toBe(
      'default:US',
    );
  });

  it('matches region rules for their member countries, and regions only when wholly inside', () => {
    const eu = rule({ id: 'eu', dataJurisdiction: 'EU', targetJurisdictions: ['EU'] });
    expect(index([eu]).decide({ jurisdiction: 'FR', classification: 'pii' }).ruleId).toBe('eu');
    expect(index([eu]).decide({ jurisdiction: 'EU', classification: 'pii' }).ruleId).toBe('eu');
    expect(index([eu]).decide({ jurisdiction: 'EEA', classification: 'pii' }).ruleId).toBe(
      'default:US',
    );
  });

  it('judges region targets by every member: an EU engine fits EU but not DE-only', () => {
    const allowEu = rule({ targetJurisdictions: ['EU'] });
    const local = rule({
      id: 'local',
      dataJurisdiction: 'FR',
      action: 'require_local',
      targetJurisdictions: [],
    });
    const idx = index([allowEu, local]);
    expect(idx.decide({ jurisdiction: 'DE', classification: 'pii' }).permits('EU')).toBe(true);
    expect(idx.decide({ jurisdiction: 'FR', classification: 'pii' }).permits('EU')).toBe(false);
    expect(idx.decide({ jurisdiction: 'FR', classification: 'pii' }).permits('FR')).toBe(true);
  });

  it('deny forbids the targets and anything overlapping them', () => {
    const deny = rule({ id: 'no-us', action: 'deny', targetJurisdictions: ['US', 'CN'] });
    const verdict = index([deny]).decide({ jurisdiction: 'DE', classification: 'pii' });
    expect(verdict.permits('US')).toBe(false);
    expect(verdict.permits('NORTH_AMERICA')).toBe(false);
    expect(verdict.permits('JP')).toBe(true);
    expect(verdict.deniedCodes).toEqual(['US', 'CN']);
    expect(verdict.reason).toContain('must not be processed in US, CN');
  });

  it("falls back to the default jurisdiction's rules, then to unrestricted default:<code>", () => {
    const usRule = rule({
      id: 'us-pii',
      dataJurisdiction: 'US',
      targetJurisdictions: ['US', 'CA'],
    });
    const viaDefault = index([usRule]).decide({ jurisdiction: 'BR', classification: 'pii' });
    expect(viaDefault.ruleId).toBe('us-pii');
    expect(viaDefault.viaDefault).toBe('US');
    expect(viaDefault.reason).toContain("default jurisdiction US's rule applies");
    const none = index([usRule], 'GB').decide({ jurisdiction: 'BR', classification: 'pii' });
    expect(none.ruleId).toBe('default:GB');
    expect(none.unrestricted).toBe(true);
    expect(none.permits('CN')).toBe(true);
  });

  it('require_local keeps data in its own jurisdiction even when decided via the default', () => {
    const local = rule({
      id: 'us-local',
      dataJurisdiction: 'US',
      action: 'require_local',
      targetJurisdictions: [],
    });
    const verdict = index([local]).decide({ jurisdiction: 'JP', classification: 'pii' });
    expect(verdict.permits('JP')).toBe(true);
    expect(verdict.permits('US')).toBe(false);
  });

  it('never permits an unknown target', () => {
    expect(index([]).decide({ jurisdiction: 'DE', classification: 'none' }).permits('XX')).toBe(
      false,
    );
  });
});

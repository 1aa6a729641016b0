/**
 * Residency enforcement decision latency with 100 rules for one tenant (target: p99 under 20
 * microseconds; OPA's published median for a small RBAC policy is 35.8 microseconds). A decision
 * is what the enforce API does: find the deciding rule in the tenant's compiled index, then check
 * three candidate jurisdictions against it. Data contexts rotate between ones an early rule
 * decides, ones only a late rule decides, region data, and ones no rule matches (the worst case:
 * every rule is scanned twice, for the data's jurisdiction and for the default jurisdiction).
 *   node tools/bench/run.mjs residency
 */
import { JurisdictionRegistry } from '@aion/jurisdictions';
import type { DataContext, ResidencyRule } from '../../apps/sovereign-ai/src/core/model';
import { ResidencyIndex } from '../../apps/sovereign-ai/src/core/residency-index';
import { timeRounds } from './timing';

const jurisdictions = new JurisdictionRegistry();
const places = [
  'DE',
  'FR',
  'IT',
  'ES',
  'NL',
  'PL',
  'SE',
  'AT',
  'EU',
  'EEA',
  'GB',
  'CH',
  'JP',
  'KR',
  'IN',
  'BR',
  'CA',
  'AU',
  'SG',
  'CN',
  'RU',
  'SA',
  'AE',
  'ZA',
  'MX',
];
const tiers = ['pii', 'financial', 'health', 'biometric', 'all'] as const;
const actions = ['allow', 'deny', 'require_local'] as const;
const targets = [['EU'], ['EEA', 'CH'], ['US', 'CN'], ['JP', 'KR', 'SG']];
const rules: ResidencyRule[] = Array.from({ length: 100 }, (_, i) => {
  const action = actions[i % 3]!;
  return {
    id: `rule-${i}`,
    tenantId: 'bench',
    dataJurisdiction: places[i % places.length]!,
    tier: tiers[i % tiers.length]!,
    action,
    targetJurisdictions: action === 'require_local' ? [] : targets[i % targets.length]!,
    priority: 100 - i,
    description: '',
    createdAt: new Date(i),
    updatedAt: new Date(i),
  };
});
const index = new ResidencyIndex(rules, jurisdictions, 'US');
const contexts: DataContext[] = [
  { jurisdiction: 'DE', classification: 'pii' },
  { jurisdiction: 'FR', classification: 'health' },
  { jurisdiction: 'EU', classification: 'financial' },
  { jurisdiction: 'NO', classification: 'biometric' }, // no rule: scans all, then the default's
  { jurisdiction: 'US', classification: 'none' },
  { jurisdiction: 'JP', classification: 'pii' },
];
const candidates = ['EU', 'US', 'DE'];

let sink = 0;
const timing = timeRounds(
  (i) => {
    const verdict = index.decide(contexts[i % contexts.length]!);
    for (const c of candidates) if (verdict.permits(c)) sink++;
  },
  { warmup: 50_000, rounds: 5, iterations: 200_000 },
);
process.stdout.write(
  `${JSON.stringify({
    benchmark: 'residency-decision',
    rules: index.size,
    candidates_per_decision: candidates.length,
    target_p99_us: 20,
    ...timing,
    permitted: sink > 0,
  })}\n`,
);

import { JurisdictionRegistry } from '@aion/jurisdictions';
import type { RegionalDeployment, RoutingPolicy, SovereignModel } from './model';
import { ResidencyIndex } from './residency-index';
import { chooseDeployment } from './routing';

const jurisdictions = new JurisdictionRegistry();
const keepInEu = new ResidencyIndex(
  [
    {
      id: 'de-pii-eu',
      tenantId: 't',
      dataJurisdiction: 'DE',
      tier: 'pii',
      action: 'allow',
      targetJurisdictions: ['EU'],
      priority: 1,
      description: '',
      createdAt: new Date(0),
      updatedAt: new Date(0),
    },
  ],
  jurisdictions,
  'US',
);
const verdict = keepInEu.decide({ jurisdiction: 'DE', classification: 'pii' });
const approved: SovereignModel = {
  id: 'm1',
  tenantId: 't',
  modelRef: 'llama',
  name: 'llama',
  version: '',
  jurisdiction: 'EU',
  status: 'APPROVED',
  registeredBy: 'dev',
  registeredByOwner: 'dev',
  decidedBy: 'admin',
  decisionReason: '',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};
let n = 0;
const deployment = (over: Partial<RegionalDeployment>): RegionalDeployment => ({
  id: `d${++n}`,
  tenantId: 't',
  jurisdiction: 'DE',
  region: 'eu-central-1',
  namespace: 'ns',
  modelId: 'llama',
  modelVersion: '',
  image: 'img',
  replicas: 1,
  status: 'ACTIVE',
  statusReason: '',
  endpoint: '',
  mode: 'render',
  createdAt: new Date(n),
  updatedAt: new Date(n),
  ...over,
});
const policy = (
  strategy: RoutingPolicy['strategy'],
  primary: string,
  secondaries: string[] = [],
) => ({
  id: 'p1',
  tenantId: 't',
  name: 'eu-first',
  strategy,
  primaryJurisdiction: primary,
  secondaryJurisdictions: secondaries,
  createdAt: new Date(0),
});
const run = (deployments: RegionalDeployment[], p?: RoutingPolicy, models = [approved]) =>
  chooseDeployment({ verdict, deployments, models, modelId: '', policy: p }, jurisdictions);

describe('chooseDeployment', () => {
  it('never picks a deployment outside the allowed jurisdictions, even the only active one', () => {
    expect(() => run([deployment({ jurisdiction: 'US' })])).toThrow(
      expect.objectContaining({ code: 'sovereign.no_compliant_deployment' }),
    );
  });

  it('never picks a deployment whose model is not approved there', () => {
    const revoked = { ...approved, status: 'REVOKED' as const };
    expect(() => run([deployment({})], undefined, [revoked])).toThrow(/no compliant deployment/);
    const usOnly = { ...approved, jurisdiction: 'US' };
    expect(() => run([deployment({})], undefined, [usOnly])).toThrow(
      expect.objectContaining({
        details: [
          expect.objectContaining({ message: expect.stringContaining('not approved in DE') }),
        ],
      }),
    );
  });

  it('strict fails when the primary has no active compliant deployment', () => {
    const deployments = [
      deployment({ jurisdiction: 'FR', status: 'ACTIVE' }),
      deployment({ status: 'FAILED' }),
    ];
    expect(() => run(deployments, policy('strict', 'DE'))).toThrow(/is strict and its primary DE/);
  });

  it('strict uses the primary when it is active', () => {
    const de = deployment({});
    expect(run([de], policy('strict', 'DE'))).toMatchObject({
      deployment: de,
      usedFallback: false,
    });
  });

  it.each(['preferred', 'fallback'] as const)(
    '%s falls back to a compliant secondary and says so',
    (strategy) => {
      const fr = deployment({ jurisdiction: 'FR' });
      const us = deployment({ jurisdiction: 'US' });
      const out = run(
        [deployment({ status: 'DEPLOYING' }), us, fr],
        policy(strategy, 'DE', ['US', 'FR']),
      );
      expect(out.deployment).toBe(fr);
      expect(out.usedFallback).toBe(true);
      expect(out.reason).toContain('fell back to FR');
      expect(out.reason).toContain('residency rule de-pii-eu');
    },
  );

  it('without a policy prefers the data jurisdiction', () => {
    const fr = deployment({ jurisdiction: 'FR' });
    const de = deployment({ jurisdiction: 'DE' });
    expect(run([fr, de]).deployment).toBe(de);
  });
});

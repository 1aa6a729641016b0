import { AionError } from '@aion/errors';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import { EnginesFileError, parseEngines, parsePolicies, taskRoute, type Engine } from './engines';
import { LatencyWindows } from './latency';
import type { RegisteredModel, ResidencyDecision } from './residency';
import { route, type RouteRequest, type RouterState } from './router';

const jurisdictions = new JurisdictionRegistry();
const engines = parseEngines(
  `
engines:
  - { name: local-sum, tier: local, kind: module, module: summarize_text, intents: [summarize], jurisdiction: DE, region: eu-central, price_per_1k_tokens: { input: 0, output: 0 } }
  - { name: eu-api, tier: cloud-standard, kind: openai-compatible, endpoint: "https://eu.example/v1", models: [m], intents: [summarize, chat], jurisdiction: EU, region: eu-west, price_per_1k_tokens: { input: 0.001, output: 0.002 } }
  - { name: us-premium, tier: cloud-premium, kind: openai-compatible, endpoint: "https://us.example/v1", models: [m], intents: [summarize, chat], jurisdiction: US, region: us-east, price_per_1k_tokens: { input: 0.01, output: 0.03 } }
  - { name: us-cheap, tier: cloud-standard, kind: openai-compatible, endpoint: "https://us2.example/v1", models: [m], intents: [chat], jurisdiction: US, region: us-west, price_per_1k_tokens: { input: 0.0005, output: 0.001 } }
`,
  jurisdictions,
);

const residencyOf = (over: Partial<ResidencyDecision>): ResidencyDecision => ({
  allowed: 'any',
  denied: [],
  rule: 'default:allow',
  reason: '',
  models: [],
  approvalRequired: false,
  ...over,
});
const registered = (over: Partial<RegisteredModel>): RegisteredModel => ({
  id: 'reg-1',
  modelRef: 'm',
  name: 'm',
  version: '',
  jurisdiction: 'EU',
  status: 'APPROVED',
  ...over,
});
const state = (over: Partial<RouterState> = {}): RouterState => ({
  p95: () => undefined,
  breakerOpen: () => false,
  policies: {},
  ...over,
});
const request = (over: Partial<RouteRequest> = {}): RouteRequest => ({
  intent: 'summarize',
  privacy: 'allow-api',
  budgetUsd: 0,
  p95Ms: 0,
  estimate: { inputTokens: 1000, outputTokens: 200 },
  data: { jurisdiction: 'DE', classification: 'none' },
  residency: residencyOf({}),
  ...over,
});
const names = (engines: { engine: Engine }[]) => engines.map((c) => c.engine.name);

describe('engines file', () => {
  it('refuses invalid files listing every problem', () => {
    const bad = `engines:\n  - { name: "Bad Name", tier: edge, kind: module, intents: [], jurisdiction: XX, region: r, price_per_1k_tokens: { input: -1, output: 0 } }\n  - { name: api, tier: local, kind: openai-compatible, intents: [chat], jurisdiction: US, region: r, price_per_1k_tokens: { input: 0, output: 0 } }\n`;
    let error: EnginesFileError | undefined;
    try {
      parseEngines(bad, jurisdictions);
    } catch (err) {
      error = err as EnginesFileError;
    }
    const text = error?.problems.join('\n') ?? '';
    for (const field of [
      'engines.0.name',
      'engines.0.tier',
      'engines.0.intents',
      'engines.0.price_per_1k_tokens.input',
      'engines.0.module',
      'engines.1.endpoint',
      'engines.1.models',
    ])
      expect(text).toContain(field);
    expect(() =>
      parseEngines(
        'engines:\n  - { name: a, tier: local, kind: module, module: m, intents: [x], jurisdiction: XX, region: r, price_per_1k_tokens: { input: 0, output: 0 } }',
        jurisdictions,
      ),
    ).toThrow(/unknown jurisdiction "XX"/);
    expect(() => parsePolicies('intents: { summarize: { force: ghost } }', engines)).toThrow(
      /unknown engine "ghost"/,
    );
  });
});

describe('route', () => {
  it('ranks cheapest first under allow-api and names the rule', () => {
    const decision = route(engines, request(), state(), jurisdictions);
    expect(names(decision.ranked)).toEqual(['local-sum', 'eu-api', 'us-premium']);
    expect(decision.chosenBy).toBe('ai-router');
    expect(decision.reason).toMatch(
      /^cheapest allowed engine: local-sum at \$0; privacy=allow-api; residency default:allow/,
    );
  });

  it('local-only keeps only the local tier', () => {
    const decision = route(engines, request({ privacy: 'local-only' }), state(), jurisdictions);
    expect(names(decision.ranked)).toEqual(['local-sum']);
    expect(decision.excluded).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          engine: 'eu-api',
          reason: 'tier cloud-standard is not allowed by privacy local-only',
        }),
      ]),
    );
  });

  it('hybrid puts the local tier first even when an API is cheaper', () => {
    const pricey: Engine = {
      ...engines[0]!,
      name: 'local-pricey',
      price_per_1k_tokens: { input: 1, output: 1 },
    };
    const decision = route(
      [pricey, engines[1]!],
      request({ privacy: 'hybrid' }),
      state(),
      jurisdictions,
    );
    expect(names(decision.ranked)).toEqual(['local-pricey', 'eu-api']);
    expect(decision.reason).toMatch(/^local tier first \(privacy hybrid\)/);
    expect(
      names(
        route([pricey, engines[1]!], request({ privacy: 'allow-api' }), state(), jurisdictions)
          .ranked,
      ),
    ).toEqual(['eu-api', 'local-pricey']);
  });

  it('excludes engines outside the residency decision and names the rule', () => {
    const residency = residencyOf({ allowed: ['EU'], rule: 'res-eu-pii' });
    const decision = route(
      engines,
      request({ data: { jurisdiction: 'FR', classification: 'pii' }, residency }),
      state(),
      jurisdictions,
    );
    expect(names(decision.ranked)).toEqual(['local-sum', 'eu-api']);
    expect(decision.reason).toContain('residency rule res-eu-pii (allows EU)');
    expect(decision.excluded.find((e) => e.engine === 'us-premium')?.reason).toBe(
      'runs in US, but pii data from FR may only be processed in EU (rule res-eu-pii)',
    );
  });

  it('excludes engines in denied jurisdictions, including regions that overlap them', () => {
    const residency = residencyOf({ denied: ['US'], rule: 'no-us' });
    const decision = route(engines, request({ residency }), state(), jurisdictions);
    expect(names(decision.ranked)).toEqual(['local-sum', 'eu-api']);
    expect(decision.reason).toContain('residency rule no-us (forbids US)');
    expect(decision.excluded.find((e) => e.engine === 'us-premium')?.reason).toContain(
      'must not be processed in US (rule no-us)',
    );
  });

  it('excludes engines whose model the registry revoked where they run, and keeps approvals', () => {
    const residency = residencyOf({
      models: [
        registered({ id: 'r1', modelRef: 'm', jurisdiction: 'US', status: 'REVOKED' }),
        registered({ id: 'r2', modelRef: 'm', jurisdiction: 'EU', status: 'APPROVED' }),
      ],
    });
    const decision = route(engines, request({ intent: 'chat', residency }), state(), jurisdictions);
    expect(names(decision.ranked)).toEqual(['eu-api']);
    expect(decision.ranked[0]!.approval?.id).toBe('r2');
    expect(decision.excluded.find((e) => e.engine === 'us-cheap')).toMatchObject({
      kind: 'model_approval',
      reason: 'model m is REVOKED for US in the sovereign registry',
    });
  });

  it('refuses unregistered models when approval is required, with sovereign.model_not_approved', () => {
    const residency = residencyOf({ approvalRequired: true });
    expect(() =>
      route(engines, request({ intent: 'chat', residency }), state(), jurisdictions),
    ).toThrow(expect.objectContaining({ code: 'sovereign.model_not_approved', httpStatus: 403 }));
  });

  it('fails with sovereign.residency_violation when residency excludes every engine for the intent', () => {
    const error = (() => {
      try {
        route(
          engines,
          request({
            intent: 'chat',
            data: { jurisdiction: 'DE', classification: 'health' },
            residency: residencyOf({
              allowed: ['JP'],
              rule: 'res-jp',
              reason: 'rule res-jp: only JP',
            }),
          }),
          state(),
          jurisdictions,
        );
      } catch (err) {
        return err as AionError;
      }
    })();
    expect(error?.code).toBe('sovereign.residency_violation');
    expect(error?.httpStatus).toBe(403);
    expect(error?.message).toContain('rule res-jp');
  });

  it('says why each engine was excluded when none is available, as an outage (503) when one is down or slow', () => {
    const windows = new LatencyWindows(10, 3);
    for (const ms of [100, 120, 900]) windows.record('eu-api', ms);
    let error: AionError | undefined;
    try {
      route(
        engines,
        request({ intent: 'chat', budgetUsd: 0.005, p95Ms: 500 }),
        state({ p95: (e) => windows.p95(e), breakerOpen: (e) => e === 'us-cheap' }),
        jurisdictions,
      );
    } catch (err) {
      error = err as AionError;
    }
    expect(error?.code).toBe('service.unavailable');
    expect(error?.httpStatus).toBe(503);
    expect(error?.message).toContain('eu-api (observed p95 900 ms exceeds sla.p95_ms 500)');
    expect(error?.message).toContain(
      'us-premium (estimated cost $0.016 exceeds the remaining budget $0.005)',
    );
    expect(error?.message).toContain('us-cheap (circuit breaker is open)');
  });

  it('refuses as the fault of the request (422) when only the request rules every engine out', () => {
    let error: AionError | undefined;
    try {
      route(engines, request({ intent: 'chat', budgetUsd: 0.000001 }), state(), jurisdictions);
    } catch (err) {
      error = err as AionError;
    }
    expect(error?.code).toBe('validation.no_allowed_engine');
    expect(error?.httpStatus).toBe(422);
    expect(error?.message).toContain('exceeds the remaining budget');
  });

  it('says plainly when no engine serves the intent at all', () => {
    expect(() => route(engines, request({ intent: 'translate' }), state(), jurisdictions)).toThrow(
      'no allowed engine serves translate: no engine is configured for this intent',
    );
  });

  it('honours the tenant budget as well as the task budget', () => {
    const decision = route(
      engines,
      request({ remainingBudgetUsd: 0.0025 }),
      state(),
      jurisdictions,
    );
    expect(names(decision.ranked)).toEqual(['local-sum', 'eu-api']);
    expect(decision.excluded.find((e) => e.engine === 'us-premium')?.reason).toBe(
      'estimated cost $0.016 exceeds the remaining budget $0.0025',
    );
  });

  it('applies per-intent policy: force (policy-override) and forbid', () => {
    const policies = parsePolicies(
      'intents:\n  summarize: { force: eu-api, forbid: [us-premium] }\n',
      engines,
    );
    const decision = route(engines, request(), state({ policies }), jurisdictions);
    expect(decision.chosenBy).toBe('policy-override');
    expect(names(decision.ranked)).toEqual(['eu-api', 'local-sum']);
    expect(decision.reason).toMatch(/^policy intents.summarize.force chose eu-api/);
    expect(decision.excluded.find((e) => e.engine === 'us-premium')?.reason).toBe(
      'forbidden by policy intents.summarize.forbid',
    );
  });

  it('prefers the preferred engine when allowed, and is deterministic', () => {
    const decision = route(
      engines,
      request({ preferredEngine: 'us-premium' }),
      state(),
      jurisdictions,
    );
    expect(names(decision.ranked)[0]).toBe('us-premium');
    expect(decision.reason).toMatch(/^preferred engine us-premium is allowed/);
    const twins: Engine[] = [
      { ...engines[1]!, name: 'b-twin' },
      { ...engines[1]!, name: 'a-twin' },
    ];
    expect(names(route(twins, request(), state(), jurisdictions).ranked)).toEqual([
      'a-twin',
      'b-twin',
    ]);
  });
});

describe('LatencyWindows', () => {
  it('computes p95 over a bounded window once it has enough samples', () => {
    const windows = new LatencyWindows(20, 5);
    for (let i = 1; i <= 4; i++) windows.record('e', i);
    expect(windows.p95('e')).toBeUndefined();
    for (let i = 5; i <= 100; i++) windows.record('e', i);
    // Nearest rank over the last 20 samples (81..100): the 19th.
    expect(windows.p95('e')).toBe(99);
    for (let i = 0; i < 20; i++) windows.record('e', 10);
    expect(windows.p95('e')).toBe(10);
  });
});

describe('the route a finished task reports (engine.route)', () => {
  it('is local on a local engine and api on a cloud engine, whatever the privacy', () => {
    expect(taskRoute('local', 'hybrid', false)).toBe('local');
    expect(taskRoute('local', 'local-only', true)).toBe('local');
    expect(taskRoute('cloud-standard', 'allow-api', false)).toBe('api');
    expect(taskRoute('cloud-premium', 'hybrid', false)).toBe('api');
  });

  it('is hybrid only for a hybrid-privacy task a local engine had before the API one', () => {
    expect(taskRoute('cloud-standard', 'hybrid', true)).toBe('hybrid');
    expect(taskRoute('cloud-premium', 'hybrid', true)).toBe('hybrid');
    // allow-api never promised local first: a local engine failing before is an ordinary fallback.
    expect(taskRoute('cloud-standard', 'allow-api', true)).toBe('api');
  });
});

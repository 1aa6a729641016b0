/**
 * Router decision latency with 100 engines (target: p99 under 50 microseconds): three request
 * shapes (hybrid + EU residency + budget, allow-api with no limits, local-only) in rotation,
 * timed one decision at a time over five rounds.
 *   node tools/bench/run.mjs router
 */
import { JurisdictionRegistry } from '@aion/jurisdictions';
import { parseEngines } from '../../apps/orchestrator/src/core/engines';
import { LatencyWindows } from '../../apps/orchestrator/src/core/latency';
import { route, type RouteRequest } from '../../apps/orchestrator/src/core/router';
import { timeRounds } from './timing';

const jurisdictions = new JurisdictionRegistry();
const tiers = ['local', 'cloud-standard', 'cloud-premium'] as const;
const places = ['DE', 'FR', 'US', 'EU', 'JP', 'GB', 'CA', 'SG'];
const yaml = `engines:\n${Array.from({ length: 100 }, (_, i) => {
  const tier = tiers[i % 3]!;
  const kind =
    tier === 'local'
      ? `kind: module, module: m${i}`
      : `kind: openai-compatible, endpoint: "http://127.0.0.1:9/v1", models: [m${i}]`;
  const intents =
    i % 4 === 0
      ? '[summarize, chat]'
      : i % 4 === 1
        ? '[chat]'
        : i % 4 === 2
          ? '[summarize]'
          : '[redact, chat]';
  return `  - { name: engine-${String(i).padStart(3, '0')}, tier: ${tier}, ${kind}, intents: ${intents}, jurisdiction: ${places[i % places.length]}, region: r${i % 5}, price_per_1k_tokens: { input: ${(i % 7) * 0.0003}, output: ${(i % 11) * 0.0005} } }`;
}).join('\n')}\n`;
const engines = parseEngines(yaml, jurisdictions);
const latency = new LatencyWindows();
engines.forEach((e, i) => {
  for (let k = 0; k < 20; k++) latency.record(e.name, 20 + ((i * 53) % 500) + (k % 5));
});
const open = new Set(engines.filter((_, i) => i % 17 === 0).map((e) => e.name));
const state = {
  p95: (e: string) => latency.p95(e),
  breakerOpen: (e: string) => open.has(e),
  policies: { chat: { forbid: ['engine-005'] } },
};
const requests: RouteRequest[] = [
  {
    intent: 'chat',
    privacy: 'hybrid',
    budgetUsd: 0.05,
    p95Ms: 300,
    estimate: { inputTokens: 800, outputTokens: 300 },
    data: { jurisdiction: 'DE', classification: 'pii' },
    residency: {
      allowed: ['EU'],
      rule: 'res-eu',
      denied: [],
      reason: '',
      models: [],
      approvalRequired: false,
    },
  },
  {
    intent: 'summarize',
    privacy: 'allow-api',
    budgetUsd: 0,
    p95Ms: 0,
    estimate: { inputTokens: 2000, outputTokens: 500 },
    data: { jurisdiction: 'US', classification: 'none' },
    residency: {
      allowed: 'any',
      rule: 'default:allow',
      denied: [],
      reason: '',
      models: [],
      approvalRequired: false,
    },
  },
  {
    intent: 'chat',
    privacy: 'local-only',
    budgetUsd: 0.01,
    p95Ms: 1000,
    estimate: { inputTokens: 100, outputTokens: 100 },
    data: { jurisdiction: 'FR', classification: 'health' },
    residency: {
      allowed: ['FR', 'DE'],
      rule: 'res-fr',
      denied: [],
      reason: '',
      models: [],
      approvalRequired: false,
    },
  },
];

const timing = timeRounds(
  (i) => route(engines, requests[i % requests.length]!, state, jurisdictions),
  {
    warmup: 20_000,
    rounds: 5,
    iterations: 100_000,
  },
);
process.stdout.write(
  `${JSON.stringify({
    benchmark: 'router-decision',
    engines: engines.length,
    target_p99_us: 50,
    ...timing,
  })}\n`,
);

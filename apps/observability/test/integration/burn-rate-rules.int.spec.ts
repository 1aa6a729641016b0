import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { sloRuleFile, sloRules } from '../../src/core/burn-rate';
import type { Slo } from '../../src/core/model';
import { resolveSlo } from '../../src/core/slo-spec';

// The generated burn-rate rules evaluated by the real promtool (Debian's prometheus package,
// installed by tools/infra/install.sh): `check rules`, then `test rules` with synthetic traffic
// for the fast page, the slow page, the ticket and the low-traffic guard. Missing promtool is a
// failure, not a skip.

const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-obs-promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const slo: Slo = {
  ...resolveSlo({
    name: 'gateway-availability',
    service: 'gateway',
    sli: 'availability',
    metric: '',
    matchers: {},
    latencyThresholdMs: 0,
    objective: 0.995,
    windowDays: 30,
    description: '',
  }),
  id: '0b8a3c52-7d1e-4f3a-9a51-8f0e6c2d4b17',
  tenantId: 'acme',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

function promtool(...args: string[]) {
  const run = spawnSync('promtool', args, { encoding: 'utf8', timeout: 120_000 });
  if (run.error)
    throw new Error(
      `promtool did not run (tools/infra/install.sh installs it): ${run.error.message}`,
    );
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Per-minute increments of a counter over consecutive spans: [increment, minutes][]. */
type Spans = [perMinute: number, minutes: number][];

/** Expanding notation for promtool: one sample per minute from 0, each span after the last. */
function series(spans: Spans): string {
  const parts = ['0'];
  let value = 0;
  for (const [inc, minutes] of spans) {
    parts.push(`${value + inc}+${inc}x${minutes - 1}`);
    value += inc * minutes;
  }
  return parts.join(' ');
}

/** Good (200) and bad (500) requests of the gateway, each as spans of per-minute counts. */
const traffic = (ok: Spans, failed: Spans) => [
  { series: 'aion_http_requests_total{service="gateway",status="200"}', values: series(ok) },
  { series: 'aion_http_requests_total{service="gateway",status="500"}', values: series(failed) },
];

type Which = 'fast page' | 'slow page' | 'ticket';
const alerts = sloRules(slo).groups[0]!.rules.filter((r) => 'alert' in r) as {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}[];
const alertOf: Record<Which, (typeof alerts)[number]> = {
  'fast page': alerts.find((a) => a.labels['long_window'] === '1h')!,
  'slow page': alerts.find((a) => a.labels['long_window'] === '6h')!,
  ticket: alerts.find((a) => a.labels['long_window'] === '3d')!,
};
/** The alerts firing at a moment: each as the rule states its labels and annotations. */
const at = (minute: number, firing: Which[]) => ({
  eval_time: `${minute}m`,
  alertname: 'AionSloErrorBudgetBurn',
  exp_alerts: firing.map((w) => ({
    exp_labels: alertOf[w].labels,
    exp_annotations: alertOf[w].annotations,
  })),
});

const TESTS = [
  {
    // Six healthy hours, then half the requests fail: 12 minutes in, the last hour's error ratio
    // is 10% (over 14.4 × 0.5%), the last 6 hours' 1.7% (under 6 × 0.5%).
    name: 'fast page: a sharp burn pages within minutes and stops soon after it ends',
    input_series: traffic(
      [
        [100, 360],
        [50, 15],
        [100, 30],
      ],
      [
        [0, 360],
        [50, 15],
        [0, 30],
      ],
    ),
    alert_rule_test: [
      at(362, []),
      at(372, ['fast page', 'ticket']),
      // Ten minutes after the burn: the 5-minute window is clean, so the page has stopped.
      at(385, ['ticket']),
    ],
  },
  {
    // Six healthy hours, then 4% errors: the 6-hour ratio passes 3% after 270 minutes of it.
    name: 'slow page: a steady burn pages once it has spent 5% of the budget',
    input_series: traffic(
      [
        [100, 360],
        [96, 300],
      ],
      [
        [0, 360],
        [4, 300],
      ],
    ),
    alert_rule_test: [at(560, ['ticket']), at(650, ['slow page', 'ticket'])],
  },
  {
    name: 'ticket: 0.8% errors (1.6 × the budget rate) open a ticket and page no one',
    input_series: traffic([[992, 420]], [[8, 420]]),
    alert_rule_test: [at(400, ['ticket'])],
  },
  {
    name: 'within budget: 0.4% errors raise nothing',
    input_series: traffic([[996, 420]], [[4, 420]]),
    alert_rule_test: [at(400, [])],
  },
  {
    // An idle service: one error in two requests is a 50% ratio in every window.
    name: 'low-traffic guard: one error in two requests pages no one',
    input_series: traffic(
      [
        [0, 360],
        [1, 1],
        [0, 5],
      ],
      [
        [0, 361],
        [1, 1],
        [0, 4],
      ],
    ),
    alert_rule_test: [at(364, [])],
  },
  {
    // The same idle hour with 2 errors in 20 requests: enough events for the fast page alone.
    name: 'low-traffic guard: 20 requests in the hour are enough for the fast page',
    input_series: traffic(
      [
        [0, 360],
        [18, 1],
        [0, 5],
      ],
      [
        [0, 361],
        [2, 1],
        [0, 4],
      ],
    ),
    alert_rule_test: [at(364, ['fast page'])],
  },
];

describe('the generated burn-rate rules in promtool', () => {
  it('pass promtool check rules', () => {
    const file = path.join(scratch, 'check.yaml');
    writeFileSync(file, sloRuleFile(slo));
    const check = promtool('check', 'rules', file);
    expect(check.output).toContain('SUCCESS: 17 rules found');
    expect(check.status).toBe(0);
  });

  it('fire the fast page, the slow page and the ticket when they should, and not on low traffic', () => {
    writeFileSync(path.join(scratch, 'rules.yaml'), sloRuleFile(slo));
    const tests = path.join(scratch, 'tests.yaml');
    writeFileSync(
      tests,
      stringify(
        {
          rule_files: ['rules.yaml'],
          evaluation_interval: '1m',
          tests: TESTS.map((t) => ({ interval: '1m', ...t })),
        },
        { lineWidth: 0, aliasDuplicateObjects: false },
      ),
    );
    const run = promtool('test', 'rules', tests);
    expect(run.output).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('without the guard, the same two requests would page: the guard is what holds it back', () => {
    const unguarded = sloRuleFile(slo).replace(
      /\n\s*and aion_slo:events:rate\w+\{[^}]*\} \* \d+ >= \d+/g,
      '',
    );
    expect(unguarded).not.toContain('aion_slo:events:rate1h{');
    writeFileSync(path.join(scratch, 'unguarded.yaml'), unguarded);
    const guard = TESTS.find((t) => t.name.startsWith('low-traffic guard: one error'))!;
    const file = path.join(scratch, 'unguarded-tests.yaml');
    writeFileSync(
      file,
      stringify(
        {
          rule_files: ['unguarded.yaml'],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              ...guard,
              alert_rule_test: [at(364, ['fast page', 'slow page', 'ticket'])],
            },
          ],
        },
        { lineWidth: 0, aliasDuplicateObjects: false },
      ),
    );
    const run = promtool('test', 'rules', file);
    expect(run.output).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('fail promtool test rules when an expectation is wrong (the check can fail)', () => {
    writeFileSync(path.join(scratch, 'rules.yaml'), sloRuleFile(slo));
    const wrong = path.join(scratch, 'wrong.yaml');
    const guard = TESTS.find((t) => t.name.startsWith('low-traffic guard: one error'))!;
    writeFileSync(
      wrong,
      stringify(
        {
          rule_files: ['rules.yaml'],
          evaluation_interval: '1m',
          tests: [{ interval: '1m', ...guard, alert_rule_test: [at(364, ['fast page'])] }],
        },
        { lineWidth: 0, aliasDuplicateObjects: false },
      ),
    );
    const run = promtool('test', 'rules', wrong);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('FAILED');
  });
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import {
  chartRuleFile,
  PLATFORM_OBJECTIVES,
  platformRules,
  RELEASE_NAMESPACE,
} from './platform-slos';

// The Helm chart's PrometheusRule embeds the platform SLOs' rules from charts/aion/files/rules,
// written from the burn-rate generator by tools/build/write-rules.ts: they must not drift from it.
const root = path.resolve(__dirname, '..', '..', '..', '..');
const rulesDir = path.join(root, 'charts/aion/files/rules');
const HINT = 'run `npx tsx tools/build/write-rules.ts` and commit charts/aion/files/rules';
const shipped = (objective: number) =>
  readFileSync(path.join(root, `charts/aion/files/rules/platform-slos-${objective}.yaml`), 'utf8');

// promtool is Debian's prometheus package (tools/infra/install.sh); without it only its checks skip.
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
const withPromtool = hasPromtool ? it : it.skip;

describe('the chart rule files', () => {
  it('are the platform SLOs as the burn-rate generator writes them, for every objective', () => {
    for (const objective of PLATFORM_OBJECTIVES) {
      const file = path.join(root, chartRuleFile(objective));
      const generated = platformRules(objective, RELEASE_NAMESPACE);
      expect([HINT, objective, parse(readFileSync(file, 'utf8'))]).toEqual([
        HINT,
        objective,
        JSON.parse(JSON.stringify(generated)),
      ]);
    }
  });

  it('hold no file the code no longer writes', () => {
    expect(readdirSync(rulesDir).sort()).toEqual(
      PLATFORM_OBJECTIVES.map((o) => path.basename(chartRuleFile(o))).sort(),
    );
  });

  it('carry the ticket window and the traffic guard, scoped to the release namespace', () => {
    const { groups } = parse(shipped(0.999)) as ReturnType<typeof platformRules>;
    expect(groups.map((g) => g.name)).toContain('aion-slo-platform-gateway-availability');
    const alerts = groups.flatMap((g) => g.rules).filter((r) => 'alert' in r);
    expect(alerts.map((a) => [a.labels['long_window'], a.labels['short_window']])).toContainEqual([
      '3d',
      '6h',
    ]);
    for (const alert of alerts) {
      expect(alert.expr).toMatch(/aion_slo:events:rate\w+\{[^}]*\} \* \d+ >= \d+$/);
      // Platform SLOs are no tenant's: the webhook counts their alerts as unowned.
      expect(alert.labels).not.toHaveProperty('tenant_id');
    }
    for (const rule of groups.flatMap((g) => g.rules)) {
      expect(rule.labels['namespace']).toBe(RELEASE_NAMESPACE);
      for (const selector of rule.expr.match(/\{[^}]*\}/g) ?? [])
        expect([rule.expr, selector]).toEqual([
          rule.expr,
          expect.stringContaining(`namespace="${RELEASE_NAMESPACE}"`),
        ]);
    }
  });

  describe('in promtool', () => {
    let scratch: string;
    beforeAll(() => {
      scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-chart-rules-'));
    });
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));
    const promtool = (...args: string[]) =>
      spawnSync('promtool', args, { cwd: scratch, encoding: 'utf8', timeout: 120_000 });

    withPromtool('pass promtool check rules', () => {
      for (const objective of PLATFORM_OBJECTIVES) {
        const r = promtool('check', 'rules', path.join(root, chartRuleFile(objective)));
        expect([objective, r.status, r.stdout + r.stderr]).toEqual([
          objective,
          0,
          expect.stringMatching(/SUCCESS: \d+ rules found/),
        ]);
      }
    });

    withPromtool("page on the release's own burn only, and not on one failed call", () => {
      // As the chart renders it for a release in namespace aion.
      writeFileSync(
        path.join(scratch, 'rules.yaml'),
        shipped(0.999).replaceAll(RELEASE_NAMESPACE, 'aion'),
      );
      const firing = (namespace: string, service: string, severity: string, window: string) =>
        `{namespace="${namespace}",service="${service}",severity="${severity}",long_window="${window}"}`;
      const test = {
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              // The gateway in aion: 60 requests a minute, 10 of them 5xx (17%, far over 0.1%).
              {
                series: 'aion_http_requests_total{namespace="aion",service="gateway",status="200"}',
                values: '0+50x90',
              },
              {
                series: 'aion_http_requests_total{namespace="aion",service="gateway",status="500"}',
                values: '0+10x90',
              },
              // Another release's gateway failing everything: not this release's rules' business.
              {
                series:
                  'aion_http_requests_total{namespace="other",service="gateway",status="500"}',
                values: '0+100x90',
              },
              // One failed gRPC call of the orchestrator, and nothing else: under the guard.
              {
                series:
                  'aion_grpc_server_handled_total{namespace="aion",service="orchestrator",code="14"}',
                values: '0 1x90',
              },
            ],
            promql_expr_test: [
              {
                expr: 'count by (namespace, service, severity, long_window) (ALERTS{alertname="AionSloErrorBudgetBurn",alertstate="firing"})',
                eval_time: '80m',
                exp_samples: [
                  { labels: firing('aion', 'gateway', 'page', '1h'), value: 1 },
                  { labels: firing('aion', 'gateway', 'page', '6h'), value: 1 },
                  { labels: firing('aion', 'gateway', 'ticket', '3d'), value: 1 },
                ],
              },
            ],
          },
        ],
      };
      writeFileSync(path.join(scratch, 'test.yaml'), stringify(test));
      const r = promtool('test', 'rules', 'test.yaml');
      expect([r.status, r.stdout + r.stderr]).toEqual([0, expect.stringMatching(/SUCCESS/)]);
    });
  });
});

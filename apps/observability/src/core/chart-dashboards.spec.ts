import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chartDashboardFile, platformDashboards } from './dashboards';

// The Helm chart ships the platform dashboards as JSON for Grafana's sidecar; they are written
// from the code by tools/build/write-dashboards.ts and must not drift from it.
const root = path.resolve(__dirname, '..', '..', '..', '..');
const HINT = 'run `npx tsx tools/build/write-dashboards.ts` and commit charts/aion/dashboards';

describe('the chart dashboards', () => {
  it('are the platform dashboards as the code builds them', () => {
    for (const d of platformDashboards()) {
      const file = path.join(root, chartDashboardFile(d.uid));
      const shipped: unknown = JSON.parse(readFileSync(file, 'utf8'));
      // Through JSON both ways: undefined fields are not in a file.
      expect([HINT, shipped]).toEqual([HINT, JSON.parse(JSON.stringify(d.model))]);
    }
  });

  it('hold no dashboard the code no longer builds', () => {
    const generated = readdirSync(path.join(root, 'charts/aion/dashboards'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => path.join(root, 'charts/aion/dashboards', f))
      .filter((f) =>
        (JSON.parse(readFileSync(f, 'utf8')) as { tags?: string[] }).tags?.includes('generated'),
      );
    expect(generated.sort()).toEqual(
      platformDashboards()
        .map((d) => path.join(root, chartDashboardFile(d.uid)))
        .sort(),
    );
  });
});

// Writes the platform dashboards (apps/observability, built with @grafana/grafana-foundation-sdk)
// as the JSON files the Helm chart ships to Grafana's sidecar: charts/aion/dashboards/<uid>.json.
// A unit test (apps/observability/src/core/chart-dashboards.spec.ts) fails when they drift.
// Run: npx tsx tools/build/write-dashboards.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import {
  chartDashboardFile,
  platformDashboards,
} from '../../apps/observability/src/core/dashboards';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  for (const d of platformDashboards()) {
    const file = path.join(root, chartDashboardFile(d.uid));
    // Formatted as the repository's prettier check wants it.
    const options = { ...(await resolveConfig(file)), filepath: file };
    writeFileSync(file, await format(JSON.stringify(d.model), options));
    console.log(`wrote ${path.relative(root, file)}`);
  }
}

void main();

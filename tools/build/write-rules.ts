// Writes the platform SLOs' burn-rate rules (apps/observability's generator, the one tenants' SLOs
// go through) as the rule files the Helm chart's PrometheusRule embeds, one per objective it offers:
// charts/aion/files/rules/platform-slos-<objective>.yaml. A unit test
// (apps/observability/src/core/chart-rules.spec.ts) fails when they drift.
// Run: npx tsx tools/build/write-rules.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import { ruleFileText } from '../../apps/observability/src/core/burn-rate';
import {
  chartRuleFile,
  PLATFORM_OBJECTIVES,
  platformRules,
  RELEASE_NAMESPACE,
} from '../../apps/observability/src/core/platform-slos';

const HEADER =
  '# Written by tools/build/write-rules.ts from apps/observability; do not edit.\n' +
  `# The namespace placeholder becomes the release namespace in templates/monitoring.yaml.\n`;

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  for (const objective of PLATFORM_OBJECTIVES) {
    const file = path.join(root, chartRuleFile(objective));
    const text = HEADER + ruleFileText(platformRules(objective, RELEASE_NAMESPACE));
    // Formatted as the repository's prettier check wants it (quotes only; the same YAML).
    const options = { ...(await resolveConfig(file)), filepath: file };
    writeFileSync(file, await format(text, options));
    console.log(`wrote ${path.relative(root, file)}`);
  }
}

void main();

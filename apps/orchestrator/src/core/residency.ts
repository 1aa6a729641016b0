import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { JurisdictionRegistry } from '@aion/jurisdictions';

export const CLASSIFICATIONS = ['none', 'pii', 'financial', 'health', 'biometric'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export interface DataContext {
  jurisdiction: string;
  classification: Classification;
}

/** Where a piece of data may be processed, and which rule said so. */
export interface ResidencyDecision {
  /** Jurisdiction codes processing may happen in; 'any' when unrestricted. */
  allowed: readonly string[] | 'any';
  rule: string;
}

/**
 * The router's question to residency: where may this data go? Answered from configuration now;
 * the sovereign-ai service answers it later behind the same port.
 */
export interface ResidencyPolicy {
  decide(tenantId: string, data: DataContext): Promise<ResidencyDecision>;
}

const ruleSchema = z
  .object({
    id: z.string().min(1),
    data_jurisdiction: z.string().min(2),
    classifications: z.array(z.enum([...CLASSIFICATIONS, 'all'])).min(1),
    allow: z.array(z.string().min(2)).optional(),
    require_local: z.boolean().optional(),
  })
  .strict()
  .refine(
    (r) => Boolean(r.allow?.length) !== Boolean(r.require_local),
    'give either allow or require_local: true',
  );

const fileSchema = z.object({ rules: z.array(ruleSchema) }).strict();

/**
 * Residency rules from a YAML file (AION_ORCHESTRATOR_RESIDENCY_FILE). Rules are evaluated in
 * order; the first whose data jurisdiction covers the data's and whose classifications include
 * the data's decides. No match: unrestricted ("default:allow").
 */
export class ConfiguredResidencyPolicy implements ResidencyPolicy {
  private readonly rules: z.infer<typeof ruleSchema>[];

  constructor(
    text: string,
    private readonly jurisdictions: JurisdictionRegistry,
  ) {
    const parsed = fileSchema.safeParse(parseYaml(text));
    if (!parsed.success)
      throw new Error(
        `residency file is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    for (const rule of parsed.data.rules) {
      jurisdictions.normalize(rule.data_jurisdiction, `rules.${rule.id}.data_jurisdiction`);
      for (const code of rule.allow ?? []) jurisdictions.normalize(code, `rules.${rule.id}.allow`);
    }
    this.rules = parsed.data.rules;
  }

  async decide(_tenantId: string, data: DataContext): Promise<ResidencyDecision> {
    for (const rule of this.rules) {
      if (!this.jurisdictions.covers([rule.data_jurisdiction], data.jurisdiction)) continue;
      if (
        !rule.classifications.includes('all') &&
        !rule.classifications.includes(data.classification)
      )
        continue;
      return { allowed: rule.require_local ? [data.jurisdiction] : rule.allow!, rule: rule.id };
    }
    return { allowed: 'any', rule: 'default:allow' };
  }
}

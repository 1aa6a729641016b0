import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { JurisdictionRegistry } from '@aion/jurisdictions';

export const TIERS = ['local', 'cloud-standard', 'cloud-premium'] as const;
export type Tier = (typeof TIERS)[number];

/** Where a task ran, as the blueprint's canonical result spells it (`engine.route`). */
export type TaskRoute = 'local' | 'api' | 'hybrid';

/**
 * A local-tier engine is `local`, any cloud tier `api`; a hybrid-privacy task that a local engine
 * was given first and that then fell back to a cloud engine is `hybrid`: its data went to both.
 */
export function taskRoute(
  tier: Tier,
  privacy: 'local-only' | 'allow-api' | 'hybrid',
  localEngineTriedFirst: boolean,
): TaskRoute {
  if (tier === 'local') return 'local';
  return privacy === 'hybrid' && localEngineTriedFirst ? 'hybrid' : 'api';
}

const price = z.object({ input: z.number().min(0), output: z.number().min(0) }).strict();

const common = {
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, ".", "_" and "-"'),
  tier: z.enum(TIERS),
  intents: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/)).min(1),
  jurisdiction: z.string().min(2),
  region: z.string().min(1),
  price_per_1k_tokens: price,
  timeout_ms: z.number().int().positive().max(600_000).optional(),
};

/** One schema per kind, so a single pass reports every problem of every engine. */
const engineSchema = z.discriminatedUnion('kind', [
  z
    .object({
      ...common,
      kind: z.literal('module'),
      module: z.string().min(1),
      entrypoint: z.string().optional(),
    })
    .strict(),
  z
    .object({
      ...common,
      kind: z.literal('openai-compatible'),
      endpoint: z.string().url(),
      api_key_env: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/)
        .optional(),
      models: z.array(z.string().min(1)).min(1),
    })
    .strict(),
]);

const fileSchema = z.object({ engines: z.array(engineSchema).min(1) }).strict();

/** An engine as declared; its jurisdiction is normalised on load. */
export type Engine = z.infer<typeof engineSchema>;

export class EnginesFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`engines file is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnginesFileError';
  }
}

/** Parses and validates an engines YAML file; every problem is listed in one error. */
export function parseEngines(text: string, jurisdictions: JurisdictionRegistry): Engine[] {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new EnginesFileError([
      `not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    ]);
  }
  const parsed = fileSchema.safeParse(data);
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  if (!parsed.success) throw new EnginesFileError(problems);
  const seen = new Set<string>();
  parsed.data.engines.forEach((e, i) => {
    if (seen.has(e.name)) problems.push(`engines.${i}.name: duplicate engine "${e.name}"`);
    seen.add(e.name);
    if (!jurisdictions.isKnown(e.jurisdiction))
      problems.push(`engines.${i}.jurisdiction: unknown jurisdiction "${e.jurisdiction}"`);
  });
  if (problems.length) throw new EnginesFileError(problems);
  return parsed.data.engines.map((e) => ({
    ...e,
    jurisdiction: jurisdictions.normalize(e.jurisdiction),
  }));
}

const policySchema = z
  .object({
    intents: z.record(
      z.string(),
      z.object({ force: z.string().optional(), forbid: z.array(z.string()).default([]) }).strict(),
    ),
  })
  .strict();

export type RoutingPolicies = Record<string, { force?: string | undefined; forbid: string[] }>;

/** Per-intent overrides; names must refer to declared engines. */
export function parsePolicies(text: string, engines: Engine[]): RoutingPolicies {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new EnginesFileError([
      `policies file is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    ]);
  }
  const parsed = policySchema.safeParse(data);
  if (!parsed.success)
    throw new EnginesFileError(
      parsed.error.issues.map((i) => `policies.${i.path.join('.')}: ${i.message}`),
    );
  const names = new Set(engines.map((e) => e.name));
  const problems: string[] = [];
  for (const [intent, rule] of Object.entries(parsed.data.intents)) {
    if (rule.force && !names.has(rule.force))
      problems.push(`policies.intents.${intent}.force: unknown engine "${rule.force}"`);
    for (const name of rule.forbid)
      if (!names.has(name))
        problems.push(`policies.intents.${intent}.forbid: unknown engine "${name}"`);
  }
  if (problems.length) throw new EnginesFileError(problems);
  return parsed.data.intents;
}

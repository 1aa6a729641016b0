import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  ACCELERATORS,
  ConfigError,
  csv,
  field,
  grpcTarget,
  POOL_NAME,
  positiveInt,
} from '@aion/config';
import { loadConfigFor } from '@aion/runtime';
import type { ModuleHostPool } from './core/module-pools';

/** What the orchestrator needs in distributed mode; embedded mode stands in for all of it. */
export const orchestratorInfraNeeds = { database: true, kafka: true };

const P = 'AION_ORCHESTRATOR_';

/** The engines shipped for the embedded default (the sample packages on module-host). */
export const DEFAULT_ENGINES_FILE =
  [
    path.resolve(__dirname, '..', 'config', 'engines.yaml'),
    path.resolve(__dirname, 'config', 'engines.yaml'),
  ].find((f) => existsSync(f)) ?? 'engines.yaml';

const target = grpcTarget('unused');
const poolEntry = z
  .object({
    name: z.string().regex(POOL_NAME, 'must be a DNS label (lowercase letters, digits, dashes)'),
    accelerator: z.enum(ACCELERATORS, { message: `must be one of ${ACCELERATORS.join(', ')}` }),
    address: z.string().pipe(target),
  })
  .strict();

/** `name=accelerator@address`: the compact form (an ipv4: list of addresses needs the JSON form). */
function compactPool(entry: string): unknown {
  const match = /^([^=@]*)=([^=@]*)@(.*)$/.exec(entry.trim());
  return match ? { name: match[1], accelerator: match[2], address: match[3] } : entry;
}

/**
 * AION_ORCHESTRATOR_MODULE_HOST_POOLS: a JSON list of {name, accelerator, address}, or
 * `name=accelerator@host:port,...`. Names are unique (they name the pool in every decision).
 */
export const modulePools = () =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      let entries: unknown;
      if (raw.trim().startsWith('[')) {
        try {
          entries = JSON.parse(raw);
        } catch {
          ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
          return z.NEVER;
        }
      } else
        entries = raw
          .split(',')
          .filter((e) => e.trim())
          .map(compactPool);
      const parsed = z
        .array(poolEntry, { message: 'must be a list of pools' })
        .min(1, 'must name at least one pool')
        .safeParse(entries);
      if (!parsed.success) {
        for (const issue of parsed.error.issues)
          ctx.addIssue({
            code: 'custom',
            message:
              typeof issue.path[0] === 'number' && typeof entries === 'object' && entries
                ? `pool ${issue.path[0] + 1}${issue.path[1] ? ` ${String(issue.path[1])}` : ''} ${issue.message}` +
                  (issue.path[1] === undefined &&
                  typeof (entries as unknown[])[issue.path[0]] === 'string'
                    ? ' (give name=accelerator@host:port)'
                    : '')
                : issue.message,
          });
        return z.NEVER;
      }
      const seen = new Set<string>();
      for (const pool of parsed.data) {
        if (seen.has(pool.name))
          ctx.addIssue({ code: 'custom', message: `pool ${pool.name} is named twice` });
        seen.add(pool.name);
      }
      return parsed.data as ModuleHostPool[];
    });

export const orchestratorConfigSpec = {
  enginesFile: field(
    `${P}ENGINES_FILE`,
    z.string().min(1).default(DEFAULT_ENGINES_FILE),
    'YAML file declaring the engines the router may choose from',
  ),
  policiesFile: field(
    `${P}POLICIES_FILE`,
    z.string().min(1).optional(),
    'YAML file with per-intent force/forbid overrides',
  ),
  sovereignAddress: field(
    `${P}SOVEREIGN_ADDRESS`,
    grpcTarget('127.0.0.1:50052'),
    'gRPC target of sovereign-ai (residency, model approvals, receipt signing); dns:///name:port spreads calls over every replica',
  ),
  observabilityAddress: field(
    `${P}OBSERVABILITY_ADDRESS`,
    grpcTarget('127.0.0.1:50054').optional(),
    "gRPC target of the observability service: the router takes each engine's p95 from its GetEngineHealth (every replica's calls) while fresh; unset: each replica's own window only",
  ),
  engineHealthRefreshMs: field(
    `${P}ENGINE_HEALTH_REFRESH_MS`,
    positiveInt(15_000),
    'How often engine health is read from the observability service (a reading stands for three times this)',
  ),
  langfuseUrl: field(
    `${P}LANGFUSE_URL`,
    z.string().url().optional(),
    'Langfuse deployment LLM calls are traced to (batch ingestion API) when no observability service is configured (with one, each tenant sets its own there); unset: none',
  ),
  langfusePublicKey: field(
    `${P}LANGFUSE_PUBLIC_KEY`,
    z.string().min(1).optional(),
    "The Langfuse project's public key",
  ),
  langfuseSecretKey: field(
    `${P}LANGFUSE_SECRET_KEY`,
    z.string().min(1).optional(),
    "The Langfuse project's secret key",
    { sensitive: true },
  ),
  langfuseJurisdiction: field(
    `${P}LANGFUSE_JURISDICTION`,
    z.string().min(2).optional(),
    "Where the Langfuse deployment runs (a country or region code): a task's data is traced only when that lies within the data's own jurisdiction",
  ),
  langfuseTenants: field(
    `${P}LANGFUSE_TENANTS`,
    csv(),
    'Tenants that opted in to LLM tracing (comma-separated); no other tenant is traced',
  ),
  sovereignCacheSeconds: field(
    `${P}SOVEREIGN_CACHE_SECONDS`,
    positiveInt(300),
    'Longest a residency answer is reused; rule and model change events clear it at once',
  ),
  sovereignGroupPrefix: field(
    `${P}SOVEREIGN_GROUP_PREFIX`,
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/)
      .default('aion-orchestrator-sovereign'),
    'Each replica hears rule and model changes in its own consumer group with this prefix',
  ),
  moduleHostAddress: field(
    `${P}MODULE_HOST_ADDRESS`,
    grpcTarget('127.0.0.1:50055'),
    'gRPC target of module-host (host:port; dns:///name:port spreads calls over every replica): one cpu pool named default; AION_ORCHESTRATOR_MODULE_HOST_POOLS replaces it',
  ),
  moduleHostPools: field(
    `${P}MODULE_HOST_POOLS`,
    modulePools(),
    'Module-host pools: JSON [{"name","accelerator","address"}] or name=accelerator@host:port,... (accelerator cpu, cuda, rocm or oneapi); a module runs in a pool its manifest accepts',
  ),
  taskTimeoutMs: field(
    `${P}TASK_TIMEOUT_MS`,
    positiveInt(60_000),
    'Longest a task may run before it ends TIMEOUT',
  ),
  breakerFailures: field(
    `${P}BREAKER_FAILURES`,
    positiveInt(5),
    'Consecutive failures that open an engine breaker',
  ),
  breakerHalfOpenMs: field(
    `${P}BREAKER_HALF_OPEN_MS`,
    positiveInt(10_000),
    'How long an open breaker waits before a trial call',
  ),
  breakerSyncMs: field(
    `${P}BREAKER_SYNC_MS`,
    positiveInt(500),
    'How often a replica reads the engine breakers all replicas share (and adds its counts): a breaker opened or reset elsewhere applies here within this time',
  ),
  platformTenant: field(
    'AION_BOOTSTRAP_TENANT',
    z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/)
      .default('default'),
    "The platform operator's tenant (the bootstrap admin key's): only its admins reset the engine circuit breakers every tenant shares, and only they see their failure texts",
  ),
  staleTaskAfterMs: field(
    `${P}STALE_TASK_AFTER_MS`,
    positiveInt(30_000),
    'A task still QUEUED this long (or RUNNING this long past the task timeout) lost its replica and is recovered',
  ),
  replicaLeaseMs: field(
    `${P}REPLICA_LEASE_MS`,
    positiveInt(10_000),
    "Each replica's lease (orc_replica_leases), renewed every third of it: the unfinished tasks of a replica whose lease lapsed are recovered at the reaper's next round instead of after the task timeout",
  ),
  reaperIntervalMs: field(
    `${P}REAPER_INTERVAL_MS`,
    positiveInt(10_000),
    'How often each replica looks for tasks to recover',
  ),
  deadLetterGroup: field(
    `${P}DLQ_CONSUMER_GROUP`,
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/)
      .default('aion-orchestrator-dlq'),
    'Kafka consumer group recording <topic>.dlq messages; replicas sharing a database share it',
  ),
  auditGroup: field(
    `${P}AUDIT_CONSUMER_GROUP`,
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/)
      .default('aion-orchestrator-audit'),
    'Kafka consumer group storing audit.activity and usage.billing; replicas sharing a database share it',
  ),
};

/** Validated at startup from AION_ORCHESTRATOR_* and the shared variables; one error lists every problem. */
export function loadOrchestratorConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfigFor('orchestrator', orchestratorConfigSpec, orchestratorInfraNeeds, env);
  // Both set would leave one silently unused.
  if (config.moduleHostPools && env[`${P}MODULE_HOST_ADDRESS`])
    throw new ConfigError([
      {
        variable: `${P}MODULE_HOST_ADDRESS`,
        problem: `is set as well as ${P}MODULE_HOST_POOLS; set one of them (a single address is one cpu pool)`,
      },
    ]);
  if (
    config.langfuseUrl &&
    !(config.langfusePublicKey && config.langfuseSecretKey && config.langfuseJurisdiction)
  )
    throw new ConfigError([
      {
        variable: `${P}LANGFUSE_URL`,
        problem: `needs ${P}LANGFUSE_PUBLIC_KEY, ${P}LANGFUSE_SECRET_KEY and ${P}LANGFUSE_JURISDICTION`,
      },
    ]);
  return config;
}

/** The pools module tasks go to: the configured list, or the single address as one cpu pool. */
export function modulePoolsOf(
  config: Pick<OrchestratorConfig, 'moduleHostAddress' | 'moduleHostPools'>,
): ModuleHostPool[] {
  return (
    config.moduleHostPools ?? [
      { name: 'default', accelerator: 'cpu', address: config.moduleHostAddress },
    ]
  );
}

export type OrchestratorConfig = ReturnType<typeof loadOrchestratorConfig>;

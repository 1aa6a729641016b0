import { z, type ZodTypeAny } from 'zod';

/** Environment prefix of each service; shared variables (DATABASE_URL, ...) have none. */
export const SERVICE_PREFIXES = {
  gateway: 'AION_GATEWAY_',
  orchestrator: 'AION_ORCHESTRATOR_',
  'sovereign-ai': 'AION_SOVEREIGN_',
  'data-pipeline': 'AION_PIPELINE_',
  observability: 'AION_OBSERVABILITY_',
  'module-host': 'AION_MODULE_HOST_',
} as const;

export type ServiceName = keyof typeof SERVICE_PREFIXES;

/** One config value: where it comes from, how it is validated, whether it may be printed. */
export interface ConfigField<S extends ZodTypeAny = ZodTypeAny> {
  /** Full variable name, e.g. DATABASE_URL or AION_GATEWAY_PORT. */
  env: string;
  schema: S;
  /** Secrets are never printed: `redactConfig` replaces them. */
  sensitive?: boolean;
  /** Only the password of a URL is secret (DATABASE_URL). */
  sensitiveUrlPassword?: boolean;
  /** Another name the variable may be set under; both set to different values is refused. */
  alias?: string;
  description: string;
}

export type ConfigSpec = Record<string, ConfigField>;
export type ConfigOf<S extends ConfigSpec> = { [K in keyof S]: z.output<S[K]['schema']> };

export function field<S extends ZodTypeAny>(
  env: string,
  schema: S,
  description: string,
  flags: Pick<ConfigField, 'sensitive' | 'sensitiveUrlPassword' | 'alias'> = {},
): ConfigField<S> {
  return { env, schema, description, ...flags };
}

/** Raised at startup with every bad variable at once, so one restart fixes all of them. */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; problem: string }[]) {
    super(
      `invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.problem}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

export function loadConfig<S extends ConfigSpec>(
  spec: S,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<S> {
  const problems: { variable: string; problem: string }[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(spec)) {
    const primary = env[f.env];
    const aliased = f.alias ? env[f.alias] : undefined;
    if (primary !== undefined && aliased !== undefined && primary !== aliased) {
      problems.push({
        variable: f.alias!,
        problem: f.sensitive
          ? `is set to another value than ${f.env}; set one of them`
          : `is ${aliased} but ${f.env} is ${primary}; set one of them`,
      });
      continue;
    }
    const raw = primary ?? aliased;
    const parsed = f.schema.safeParse(raw === '' ? undefined : raw);
    if (parsed.success) {
      out[key] = parsed.data;
    } else {
      // Never echo the received value: it may be a secret.
      const problem = parsed.error.issues.map((i) => i.message).join('; ');
      problems.push({
        variable: f.env,
        problem: raw === undefined ? `${problem} (not set)` : problem,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

const MASK = '***';

function maskUrlPassword(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = MASK;
    return url.toString();
  } catch {
    return MASK;
  }
}

/** A printable copy of the config: secrets masked, URL passwords masked. */
export function redactConfig<S extends ConfigSpec>(
  spec: S,
  config: ConfigOf<S>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(spec)) {
    const value = (config as Record<string, unknown>)[key];
    if (value === undefined) out[key] = undefined;
    else if (f.sensitive) out[key] = MASK;
    else if (f.sensitiveUrlPassword && typeof value === 'string') out[key] = maskUrlPassword(value);
    else out[key] = value;
  }
  return out;
}

// ---- reusable schemas ----

export const port = (fallback: number) =>
  z.coerce.number().int().min(0).max(65535).default(fallback);
export const positiveInt = (fallback: number) =>
  z.coerce.number().int().positive().default(fallback);
export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
export const csv = () =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
export const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol.replace(':', ''));
      } catch {
        return false;
      }
    },
    `must be a URL with scheme ${protocols.join(' or ')}`,
  );

const HOST_PORT = String.raw`(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}`;
const GRPC_TARGET = new RegExp(
  `^(${HOST_PORT}|dns:(//[A-Za-z0-9._:-]*/)?${HOST_PORT}|ipv4:${HOST_PORT}(,${HOST_PORT})*|ipv6:${HOST_PORT}(,${HOST_PORT})*|unix:.+)$`,
);

/**
 * A gRPC target: `host:port`, `dns:///name:port` (every address the name resolves to, such as a
 * Kubernetes headless Service: calls are spread over all of them), `ipv4:a:port,b:port` or
 * `unix:/path`.
 */
export const grpcTarget = (fallback: string) =>
  z
    .string()
    .regex(
      GRPC_TARGET,
      'must be host:port, dns:///host:port, ipv4:host:port[,host:port...] or unix:path',
    )
    .default(fallback);

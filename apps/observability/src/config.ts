import { z } from 'zod';
import { field, grpcTarget, positiveInt } from '@aion/config';
import { loadConfigFor } from '@aion/runtime';

/** What the observability service needs in distributed mode; embedded mode stands in for all of it. */
export const observabilityInfraNeeds = { database: true, kafka: true };

const P = 'AION_OBSERVABILITY_';

export const observabilityConfigSpec = {
  alertmanagerUrl: field(
    `${P}ALERTMANAGER_URL`,
    z.string().url().default('http://127.0.0.1:9093'),
    'Alertmanager whose active alerts GET /alerts/active reads',
  ),
  lokiUrl: field(
    `${P}LOKI_URL`,
    z.string().url().default('http://127.0.0.1:3100'),
    'Loki (multi-tenant: X-Scope-OrgID) that POST /logs/query reads',
  ),
  upstreamTimeoutMs: field(
    `${P}UPSTREAM_TIMEOUT_MS`,
    positiveInt(5000),
    'Longest wait for an answer from Alertmanager, Prometheus or Loki',
  ),
  rulesDir: field(
    `${P}RULES_DIR`,
    z.string().min(1).optional(),
    'Directory of rule files Prometheus loads (rule_files: [<dir>/*.yml]); unset: rules are not synced (status pending)',
  ),
  rulesNamespace: field(
    `${P}RULES_NAMESPACE`,
    z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace')
      .optional(),
    "Write each tenant's rules as a PrometheusRule object in this namespace (Prometheus Operator) instead of files",
  ),
  rulesLabels: field(
    `${P}RULES_LABELS`,
    z
      .string()
      .regex(/^([A-Za-z0-9./_-]+=[A-Za-z0-9._-]*)?(,[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*)*$/, 'k=v,k=v')
      .default(''),
    "Labels of the PrometheusRule objects, which the operator's ruleSelector matches (k=v,k=v)",
  ),
  prometheusUrl: field(
    `${P}PROMETHEUS_URL`,
    z.string().url().default('http://127.0.0.1:9090'),
    'Prometheus: reloaded after a rule file changes (POST /-/reload, --web.enable-lifecycle) and asked for burn rates',
  ),
  promtool: field(
    `${P}PROMTOOL`,
    z.string().default('promtool'),
    "promtool, which checks a rule file before Prometheus loads it ('' or missing: files go unchecked)",
  ),
  sloEvaluationIntervalMs: field(
    `${P}SLO_EVALUATION_INTERVAL_MS`,
    z.coerce.number().int().min(0).default(300_000),
    "How often every SLO's burn rates are snapshotted into obs_slo_evaluations (0: never)",
  ),
  sovereignAddress: field(
    `${P}SOVEREIGN_ADDRESS`,
    grpcTarget('127.0.0.1:50052'),
    "gRPC target of sovereign-ai: whether a tenant's LLM traces may go to its Langfuse deployment's jurisdiction",
  ),
  secretsDir: field(
    `${P}SECRETS_DIR`,
    z.string().min(1).optional(),
    "Directory of tenants' secrets, one file <tenant_id>.<name> each (e.g. a mounted Kubernetes Secret): the Langfuse secret keys LLM tracing settings name by secret_key_ref; unset: no tenant can enable LLM tracing",
  ),
  webhookToken: field(
    `${P}WEBHOOK_TOKEN`,
    z.string().min(32).optional(),
    "Bearer token Alertmanager's webhook must send (http_config.authorization); unset: the webhook refuses every call",
    { sensitive: true },
  ),
};

/** Validated at startup from AION_OBSERVABILITY_* and the shared variables; one error lists every problem. */
export function loadObservabilityConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('observability', observabilityConfigSpec, observabilityInfraNeeds, env);
}

export type ObservabilityConfig = ReturnType<typeof loadObservabilityConfig>;

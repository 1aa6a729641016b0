import { z } from 'zod';
import { bool, field, positiveInt } from '@aion/config';
import { loadConfigFor } from '@aion/runtime';

/** What the sovereign-ai service needs in distributed mode; embedded mode stands in for all of it. */
export const sovereignAiInfraNeeds = { database: true, kafka: true };

const P = 'AION_SOVEREIGN_';

export const sovereignAiConfigSpec = {
  defaultJurisdiction: field(
    `${P}DEFAULT_JURISDICTION`,
    z.string().min(2).default('US'),
    'Jurisdiction whose rules apply to data no rule matches (and to data that names none)',
  ),
  maxRulesPerTenant: field(
    `${P}MAX_RESIDENCY_RULES_PER_TENANT`,
    positiveInt(100),
    'Residency rules a tenant may have; the next is refused',
  ),
  complianceCacheTtlSeconds: field(
    `${P}COMPLIANCE_CACHE_TTL_SECONDS`,
    positiveInt(3600),
    'How long a compliance answer is reused',
  ),
  complianceFile: field(
    `${P}COMPLIANCE_FILE`,
    z.string().min(1).optional(),
    'JSON or YAML map of jurisdiction -> {regulations, adequate_jurisdictions} replacing entries of the starter set',
  ),
  ruleCacheSeconds: field(
    `${P}RULE_CACHE_SECONDS`,
    positiveInt(60),
    'Longest compiled rules are reused without a change event (events clear them at once)',
  ),
  requireModelApproval: field(
    `${P}REQUIRE_MODEL_APPROVAL`,
    bool(false),
    'Only APPROVED models may be used; otherwise only registered models that are not approved are blocked',
  ),
  modelApprovalTwoPerson: field(
    `${P}MODEL_APPROVAL_TWO_PERSON`,
    bool(true),
    'Two-person rule: the person (principal owner) that registered a model may not approve it with any credential',
  ),
  k8sMode: field(
    `${P}K8S_MODE`,
    z.enum(['render', 'apply']).optional(),
    'apply: deploy to a cluster; render: write manifests for GitOps (default: render in embedded mode, apply otherwise)',
  ),
  k8sNamespacePrefix: field(
    `${P}K8S_NAMESPACE_PREFIX`,
    z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/, 'a DNS label prefix of at most 32 characters')
      .default('aion-sovereign'),
    'Regional namespaces are {prefix}-{jurisdiction}-{region}',
  ),
  kubeconfig: field(
    `${P}KUBECONFIG`,
    z.string().min(1).optional(),
    'apply mode: kubeconfig file (default: in-cluster config when running in a pod, else ~/.kube/config)',
  ),
  manifestsDir: field(
    `${P}MANIFESTS_DIR`,
    z.string().min(1).default('.aion/manifests'),
    'render mode: where manifests are written',
  ),
  rolloutTimeoutSeconds: field(
    `${P}ROLLOUT_TIMEOUT_SECONDS`,
    positiveInt(600),
    'apply mode: a rollout not complete by then marks the deployment FAILED',
  ),
  receiptKeyPassphrase: field(
    `${P}RECEIPT_KEY_PASSPHRASE`,
    z.string().min(32).optional(),
    'Encrypts receipt signing keys at rest (default: derived from AION_INTERNAL_TOKEN_SECRET)',
    { sensitive: true },
  ),
  receiptKeyRotationDays: field(
    `${P}RECEIPT_KEY_ROTATION_DAYS`,
    positiveInt(30),
    'A receipt signing key older than this is replaced',
  ),
  receiptKeyRetentionDays: field(
    `${P}RECEIPT_KEY_RETENTION_DAYS`,
    positiveInt(400),
    'Superseded public keys stay published this long, so old receipts still verify',
  ),
  cacheGroupPrefix: field(
    `${P}CACHE_GROUP_PREFIX`,
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/)
      .default('aion-sovereign-cache'),
    'Each replica listens for rule and model changes in its own consumer group with this prefix',
  ),
};

/** Validated at startup from AION_SOVEREIGN_* and the shared variables; one error lists every problem. */
export function loadSovereignAiConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('sovereign-ai', sovereignAiConfigSpec, sovereignAiInfraNeeds, env);
}

export type SovereignAiConfig = ReturnType<typeof loadSovereignAiConfig>;

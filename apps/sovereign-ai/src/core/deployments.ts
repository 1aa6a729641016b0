import { createHash } from 'node:crypto';
import { AionError } from '@aion/errors';
import type { DeploymentStatus, RegionalDeployment } from './model';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const REGION_PATTERN = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;

/**
 * `{prefix}-{jurisdiction lower-case}-{region}`, e.g. aion-sovereign-de-eu-central-1. Kubernetes
 * namespaces are DNS-1123 labels of at most 63 characters; a name that cannot be one is refused.
 */
export function namespaceFor(prefix: string, jurisdiction: string, region: string): string {
  // Region codes may hold '_' (NORTH_AMERICA); a DNS label spells it '-'.
  const name = `${prefix}-${jurisdiction.toLowerCase().replace(/_/g, '-')}-${region}`;
  if (!REGION_PATTERN.test(region))
    throw AionError.validation(`region ${JSON.stringify(region)} is not a valid region name`, [
      {
        field: 'region',
        message: 'lower-case letters, digits and dashes, 1-32 characters, e.g. eu-central-1',
      },
    ]);
  if (name.length > 63 || !DNS_LABEL.test(name))
    throw AionError.validation(`namespace ${name} is not a valid Kubernetes namespace name`, [
      {
        field: 'region',
        message:
          'prefix, jurisdiction and region together must form a DNS label of at most 63 characters',
      },
    ]);
  return name;
}

/** Lower-case letters, digits and dashes only, at most `max` characters, no dash at either end. */
function cleaned(value: string, max: number): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
}

const digest = (parts: readonly string[], hexChars: number) =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, hexChars);

/**
 * A value safe as a Kubernetes name or label value (<= 63, [a-z0-9-]): the readable part plus a
 * short hash of the original, so two different inputs never collide after cleaning.
 */
export function k8sSafe(value: string, max = 63): string {
  const hash = digest([value], 8);
  const clean = cleaned(value, max - 9);
  return clean ? `${clean}-${hash}` : hash;
}

/** PENDING -> DEPLOYING -> ACTIVE | FAILED; anything but DECOMMISSIONED may be decommissioned. */
const NEXT: Record<DeploymentStatus, readonly DeploymentStatus[]> = {
  PENDING: ['DEPLOYING', 'FAILED', 'DECOMMISSIONED'],
  DEPLOYING: ['ACTIVE', 'FAILED', 'DECOMMISSIONED'],
  ACTIVE: ['FAILED', 'DECOMMISSIONED'],
  FAILED: ['DEPLOYING', 'DECOMMISSIONED'],
  DECOMMISSIONED: [],
};

export function assertDeploymentTransition(d: RegionalDeployment, to: DeploymentStatus): void {
  if (!NEXT[d.status].includes(to))
    throw new AionError(
      'state.conflict',
      `deployment ${d.id} is ${d.status}; it cannot become ${to} (allowed: ${NEXT[d.status].join(', ') || 'none, the state is final'})`,
    );
}

export const DEPLOYMENT_EVENTS = {
  DEPLOYING: 'deployment.deploying',
  ACTIVE: 'deployment.active',
  FAILED: 'deployment.failed',
  DECOMMISSIONED: 'deployment.decommissioned',
} as const;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface DeploymentManifests {
  namespace: K8sObject;
  deployment: K8sObject;
  service: K8sObject;
}

const MODEL_PORT = 8000;

/** Hex digits of the name's digest: 64 bits, so no two deployments meet by chance. */
const NAME_DIGEST = 16;

/**
 * Names the model server's Deployment and Service: `model-<model>-<digest>`, where the digest
 * covers the tenant and the deployment. Tenants share the regional namespace, so a name made of
 * the model alone let one tenant's deployment overwrite (and its decommission delete) another's.
 * The deployment id is chosen by the server, so nobody can pick a model id that collides with
 * someone else's name. A DNS-1035 label (a Service name starts with a letter), at most 63.
 */
export function workloadName(d: Pick<RegionalDeployment, 'tenantId' | 'id' | 'modelId'>): string {
  const hash = digest([d.tenantId, d.id], NAME_DIGEST);
  const model = cleaned(d.modelId, 63 - 'model-'.length - 1 - NAME_DIGEST);
  return model ? `model-${model}-${hash}` : `model-${hash}`;
}

/** The in-cluster endpoint of a deployment's model server (OpenAI-compatible, /v1). */
export const endpointOf = (
  d: Pick<RegionalDeployment, 'tenantId' | 'id' | 'modelId' | 'namespace'>,
) => `http://${workloadName(d)}.${d.namespace}.svc.cluster.local/v1`;

const MANAGER = 'aion-sovereign-ai';

/**
 * The Namespace, Deployment and Service of one regional model server. Labels name tenant,
 * jurisdiction and model (cleaned to label syntax; the exact values are in annotations).
 */
export function renderManifests(d: RegionalDeployment): DeploymentManifests {
  const name = workloadName(d);
  const labels = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/component': 'model-server',
    'app.kubernetes.io/managed-by': MANAGER,
    'aion.io/tenant': k8sSafe(d.tenantId),
    'aion.io/jurisdiction': d.jurisdiction.toLowerCase(),
    'aion.io/region': d.region,
    'aion.io/model': k8sSafe(d.modelId),
    'aion.io/deployment-id': k8sSafe(d.id),
  };
  const annotations = {
    'aion.io/tenant': d.tenantId,
    'aion.io/model': d.modelId,
    'aion.io/model-version': d.modelVersion,
    'aion.io/deployment-id': d.id,
  };
  const selector = {
    'app.kubernetes.io/name': name,
    'aion.io/tenant': labels['aion.io/tenant'],
    'aion.io/deployment-id': labels['aion.io/deployment-id'],
  };
  return {
    namespace: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: d.namespace,
        labels: {
          'app.kubernetes.io/managed-by': MANAGER,
          'aion.io/jurisdiction': labels['aion.io/jurisdiction'],
          'aion.io/region': d.region,
        },
      },
    },
    deployment: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: d.namespace, labels, annotations },
      spec: {
        replicas: d.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels, annotations },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'model-server',
                image: d.image,
                ports: [{ name: 'http', containerPort: MODEL_PORT }],
                env: [
                  { name: 'AION_MODEL_ID', value: d.modelId },
                  { name: 'AION_MODEL_VERSION', value: d.modelVersion },
                  { name: 'AION_JURISDICTION', value: d.jurisdiction },
                ],
                readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5 },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    },
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: d.namespace, labels, annotations },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      },
    },
  };
}

/** Labels and annotations of an object as read back from the cluster or a rendered file. */
export interface ExistingObject {
  metadata?: {
    labels?: Record<string, string> | undefined;
    annotations?: Record<string, string> | undefined;
  };
}

/**
 * Why `existing` may not be replaced or deleted for the deployment that renders `wanted`, or
 * undefined when it may: only an object Aion made for the same tenant's same deployment is
 * touched. The tenant is compared as label (cleaned) and annotation (exact); a missing
 * `existing` (unreadable, not a manifest) is never Aion's.
 */
export function foreignOwnership(
  existing: ExistingObject | undefined,
  wanted: K8sObject,
): string | undefined {
  const labels = existing?.metadata?.labels ?? {};
  const annotations = existing?.metadata?.annotations ?? {};
  const want = {
    labels: wanted.metadata.labels ?? {},
    annotations: wanted.metadata.annotations ?? {},
  };
  if (!want.annotations['aion.io/tenant'] || !want.annotations['aion.io/deployment-id'])
    return 'cannot be matched to a tenant and deployment';
  if (labels['app.kubernetes.io/managed-by'] !== MANAGER) return 'was not created by Aion';
  if (
    labels['aion.io/tenant'] !== want.labels['aion.io/tenant'] ||
    annotations['aion.io/tenant'] !== want.annotations['aion.io/tenant']
  )
    return 'belongs to another tenant';
  if (annotations['aion.io/deployment-id'] !== want.annotations['aion.io/deployment-id'])
    return 'belongs to another deployment';
  return undefined;
}

/**
 * The refusal of a ClusterPort to replace or delete an object it does not own (409). The
 * message names the object and the caller's deployment, never the owner.
 */
export function foreignObjectRefusal(
  wanted: K8sObject,
  why: string,
  action: 'replace' | 'delete',
): AionError {
  const object = `${wanted.kind} ${wanted.metadata.namespace}/${wanted.metadata.name}`;
  const deployment = wanted.metadata.annotations?.['aion.io/deployment-id'] ?? '';
  return new AionError(
    'state.conflict',
    `${object} exists and ${why}: Aion does not ${action} it (deployment ${deployment})`,
    { details: [{ field: 'deployment', reason: 'foreign_object', message: `${object} ${why}` }] },
  );
}

/**
 * The cluster a deployment goes to: applied through the Kubernetes API, or rendered for GitOps.
 * Before replacing or deleting anything that exists, an implementation reads it and refuses
 * (foreignObjectRefusal) unless foreignOwnership finds it is the same deployment's.
 */
export interface ClusterPort {
  readonly mode: 'apply' | 'render';
  /** Creates or updates the objects (apply) or writes them out (render). */
  deploy(manifests: DeploymentManifests): Promise<void>;
  /** apply: the rollout as the cluster reports it; render: always 'unknown' (GitOps reports). */
  rollout(
    manifests: DeploymentManifests,
  ): Promise<'ready' | 'progressing' | 'unknown' | { failed: string }>;
  /** Removes the workload (apply) or its rendered files (render). The namespace stays. */
  remove(manifests: DeploymentManifests): Promise<void>;
}

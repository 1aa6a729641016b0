import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Deployment,
  type V1Namespace,
  type V1Service,
} from '@kubernetes/client-node';
import type { ClusterPort, DeploymentManifests } from '../../core/deployments';

/** The HTTP status of a Kubernetes API error, if it is one. */
const statusOf = (err: unknown): number | undefined =>
  typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number'
    ? err.code
    : undefined;

/** Where the Kubernetes credentials come from. */
export type KubeSource =
  | { kind: 'in-cluster' }
  | { kind: 'kubeconfig'; path?: string }
  | { kind: 'config'; config: KubeConfig };

export function kubeConfigFrom(source: KubeSource): KubeConfig {
  if (source.kind === 'config') return source.config;
  const kc = new KubeConfig();
  if (source.kind === 'in-cluster') kc.loadFromCluster();
  else if (source.path) kc.loadFromFile(source.path);
  else kc.loadFromDefault();
  return kc;
}

/**
 * Apply mode: creates or replaces the Namespace, Deployment and Service through the Kubernetes
 * API (@kubernetes/client-node), and reads the rollout from the Deployment's status.
 */
export class AppliedCluster implements ClusterPort {
  readonly mode = 'apply' as const;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
  }

  async deploy(m: DeploymentManifests): Promise<void> {
    const namespace = m.namespace.metadata.name;
    await this.core.createNamespace({ body: m.namespace as V1Namespace }).catch((err: unknown) => {
      if (statusOf(err) !== 409) throw err; // exists already: fine
    });
    const name = m.deployment.metadata.name;
    await this.apps
      .createNamespacedDeployment({ namespace, body: m.deployment as V1Deployment })
      .catch((err: unknown) => {
        if (statusOf(err) !== 409) throw err;
        return this.apps.replaceNamespacedDeployment({
          name,
          namespace,
          body: m.deployment as V1Deployment,
        });
      });
    await this.core
      .createNamespacedService({ namespace, body: m.service as V1Service })
      .catch((err: unknown) => {
        if (statusOf(err) !== 409) throw err;
        return this.core.replaceNamespacedService({
          name,
          namespace,
          body: m.service as V1Service,
        });
      });
  }

  async rollout(m: DeploymentManifests): Promise<'ready' | 'progressing' | { failed: string }> {
    const d = await this.apps.readNamespacedDeploymentStatus({
      name: m.deployment.metadata.name,
      namespace: m.namespace.metadata.name,
    });
    const wanted = d.spec?.replicas ?? 1;
    const stalled = d.status?.conditions?.find(
      (c) => c.type === 'Progressing' && c.status === 'False',
    );
    if (stalled)
      return { failed: `rollout stalled: ${stalled.reason ?? ''} ${stalled.message ?? ''}`.trim() };
    const fresh = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
    return fresh &&
      (d.status?.availableReplicas ?? 0) >= wanted &&
      (d.status?.updatedReplicas ?? 0) >= wanted
      ? 'ready'
      : 'progressing';
  }

  async remove(m: DeploymentManifests): Promise<void> {
    const namespace = m.namespace.metadata.name;
    const name = m.deployment.metadata.name;
    const gone = (err: unknown) => {
      if (statusOf(err) !== 404) throw err;
    };
    await this.apps.deleteNamespacedDeployment({ name, namespace }).catch(gone);
    await this.core.deleteNamespacedService({ name, namespace }).catch(gone);
  }
}

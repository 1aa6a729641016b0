import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Deployment,
  type V1Namespace,
  type V1Service,
} from '@kubernetes/client-node';
import {
  foreignObjectRefusal,
  foreignOwnership,
  type ClusterPort,
  type DeploymentManifests,
  type ExistingObject,
  type K8sObject,
} from '../../core/deployments';

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

/** How to create, read, replace and delete one kind of namespaced object. */
interface ObjectApi {
  create(): Promise<unknown>;
  read(): Promise<ExistingObject & { metadata?: { uid?: string; resourceVersion?: string } }>;
  replace(resourceVersion: string | undefined): Promise<unknown>;
  delete(preconditions: { uid?: string; resourceVersion?: string }): Promise<unknown>;
}

/**
 * Apply mode: creates the Namespace, Deployment and Service through the Kubernetes API
 * (@kubernetes/client-node), and reads the rollout from the Deployment's status. An object that
 * exists already is read first and replaced or deleted only when it is the same deployment's
 * (same tenant, same deployment id), and only in the version read: the replace names its
 * resourceVersion and the delete its uid and resourceVersion, so a change in between fails
 * the call instead of being overwritten. The shared regional Namespace is never replaced or
 * deleted.
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
    await this.core.createNamespace({ body: m.namespace as V1Namespace }).catch((err: unknown) => {
      if (statusOf(err) !== 409) throw err; // exists already: fine
    });
    for (const [wanted, api] of this.objectsOf(m)) {
      const created = await api.create().then(
        () => true,
        (err: unknown) => {
          if (statusOf(err) !== 409) throw err;
          return false;
        },
      );
      if (created) continue;
      const existing = await api.read();
      const why = foreignOwnership(existing, wanted);
      if (why) throw foreignObjectRefusal(wanted, why, 'replace');
      await api.replace(existing.metadata?.resourceVersion);
    }
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
    const gone = (err: unknown) => {
      if (statusOf(err) !== 404) throw err;
      return undefined;
    };
    for (const [wanted, api] of this.objectsOf(m)) {
      const existing = await api.read().catch(gone);
      if (!existing) continue;
      const why = foreignOwnership(existing, wanted);
      if (why) throw foreignObjectRefusal(wanted, why, 'delete');
      const { uid, resourceVersion } = existing.metadata ?? {};
      await api
        .delete({ ...(uid ? { uid } : {}), ...(resourceVersion ? { resourceVersion } : {}) })
        .catch(gone);
    }
  }

  /** The Deployment and the Service, each with the calls that create, read, replace, delete it. */
  private objectsOf(m: DeploymentManifests): [K8sObject, ObjectApi][] {
    const namespace = m.namespace.metadata.name;
    const versioned = (o: K8sObject, resourceVersion: string | undefined) => ({
      ...o,
      metadata: { ...o.metadata, ...(resourceVersion ? { resourceVersion } : {}) },
    });
    const deployment = m.deployment;
    const service = m.service;
    return [
      [
        deployment,
        {
          create: () =>
            this.apps.createNamespacedDeployment({ namespace, body: deployment as V1Deployment }),
          read: () =>
            this.apps.readNamespacedDeployment({ name: deployment.metadata.name, namespace }),
          replace: (rv) =>
            this.apps.replaceNamespacedDeployment({
              name: deployment.metadata.name,
              namespace,
              body: versioned(deployment, rv) as V1Deployment,
            }),
          delete: (preconditions) =>
            this.apps.deleteNamespacedDeployment({
              name: deployment.metadata.name,
              namespace,
              body: { preconditions },
            }),
        },
      ],
      [
        service,
        {
          create: () =>
            this.core.createNamespacedService({ namespace, body: service as V1Service }),
          read: () => this.core.readNamespacedService({ name: service.metadata.name, namespace }),
          replace: (rv) =>
            this.core.replaceNamespacedService({
              name: service.metadata.name,
              namespace,
              body: versioned(service, rv) as V1Service,
            }),
          delete: (preconditions) =>
            this.core.deleteNamespacedService({
              name: service.metadata.name,
              namespace,
              body: { preconditions },
            }),
        },
      ],
    ];
  }
}

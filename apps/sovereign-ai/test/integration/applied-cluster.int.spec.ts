import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { AppliedCluster } from '../../src/adapters/k8s/applied-cluster';
import { renderManifests, type DeploymentManifests } from '../../src/core/deployments';
import type { RegionalDeployment } from '../../src/core/model';
import {
  describeWithKubeApiServer,
  startKubeControlPlane,
  type KubeControlPlane,
} from '@aion/testing';

// Apply mode against a real kube-apiserver (security finding 1): the unit test of AppliedCluster
// uses a stand-in API; this one checks the same refusals, and the replace and delete with
// preconditions, against the real thing. It needs a kube-apiserver binary (tools/infra/kube-apiserver.sh)
// and etcd; `npm test` builds the one and installs the other.

const base: RegionalDeployment = {
  id: '00000000-0000-4000-8000-00000000000a',
  tenantId: 'tenant-a',
  jurisdiction: 'DE',
  region: 'eu-central-1',
  namespace: 'aion-sovereign-de-eu-central-1',
  modelId: 'llama-3.1-8b',
  modelVersion: '',
  image: 'registry.local/tenant-a/vllm:1',
  replicas: 1,
  status: 'PENDING',
  statusReason: '',
  endpoint: '',
  mode: 'apply',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};
const ofA = base;
const ofB: RegionalDeployment = {
  ...base,
  id: '00000000-0000-4000-8000-00000000000b',
  tenantId: 'tenant-b',
  image: 'registry.local/tenant-b/vllm:1',
};
const ns = base.namespace;

describeWithKubeApiServer('AppliedCluster on a real kube-apiserver', (kubeApiServer) => {
  let plane: KubeControlPlane;
  let cluster: AppliedCluster;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  const a = renderManifests(ofA);
  const b = renderManifests(ofB);
  const imageOf = async (m: DeploymentManifests) =>
    (await apps.readNamespacedDeployment({ name: m.deployment.metadata.name, namespace: ns })).spec
      ?.template.spec?.containers[0]?.image;
  const exists = (read: Promise<unknown>) =>
    read.then(
      () => true,
      (err: { code?: number }) => {
        if (err.code === 404) return false;
        throw err;
      },
    );

  beforeAll(async () => {
    plane = await startKubeControlPlane(kubeApiServer);
    cluster = new AppliedCluster(plane.kubeConfig);
    apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
  }, 90_000);
  afterAll(() => plane?.stop(), 60_000);

  it("keeps two tenants' workloads of one model in one region apart; B's removal leaves A's", async () => {
    await cluster.deploy(a);
    await cluster.deploy(b);
    expect(await imageOf(a)).toBe(ofA.image);
    expect(await imageOf(b)).toBe(ofB.image);
    await cluster.remove(b);
    expect(
      await exists(
        apps.readNamespacedDeployment({ name: b.deployment.metadata.name, namespace: ns }),
      ),
    ).toBe(false);
    expect(await imageOf(a)).toBe(ofA.image);
    expect(
      await exists(core.readNamespacedService({ name: a.service.metadata.name, namespace: ns })),
    ).toBe(true);
  });

  it('refuses to replace or delete an object labelled with another tenant', async () => {
    const name = a.deployment.metadata.name;
    const forged: DeploymentManifests = {
      ...b,
      deployment: { ...b.deployment, metadata: { ...b.deployment.metadata, name } },
      service: { ...b.service, metadata: { ...b.service.metadata, name } },
    };
    await expect(cluster.deploy(forged)).rejects.toMatchObject({
      code: 'state.conflict',
      message: expect.stringContaining('another tenant'),
    });
    await expect(cluster.remove(forged)).rejects.toMatchObject({ code: 'state.conflict' });
    expect(await imageOf(a)).toBe(ofA.image);
    expect(await exists(core.readNamespacedService({ name, namespace: ns }))).toBe(true);
  });

  it('refuses objects under its name that Aion did not create', async () => {
    const own = renderManifests({ ...ofA, id: '00000000-0000-4000-8000-00000000000c' });
    const name = own.service.metadata.name;
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name }, spec: { ports: [{ port: 80 }] } },
    });
    await expect(cluster.deploy(own)).rejects.toMatchObject({ code: 'state.conflict' });
    await expect(cluster.remove(own)).rejects.toMatchObject({ code: 'state.conflict' });
    const kept = await core.readNamespacedService({ name, namespace: ns });
    expect(kept.metadata?.labels).toBeUndefined();
  });

  it('replaces its own objects in the version it read (the Service keeps its cluster IP) and removes them', async () => {
    const before = await core.readNamespacedService({
      name: a.service.metadata.name,
      namespace: ns,
    });
    await cluster.deploy(renderManifests({ ...ofA, replicas: 3 }));
    const replaced = await apps.readNamespacedDeployment({
      name: a.deployment.metadata.name,
      namespace: ns,
    });
    expect(replaced.spec?.replicas).toBe(3);
    const service = await core.readNamespacedService({
      name: a.service.metadata.name,
      namespace: ns,
    });
    expect(service.spec?.clusterIP).toBe(before.spec?.clusterIP);
    await cluster.remove(a);
    expect(
      await exists(
        apps.readNamespacedDeployment({ name: a.deployment.metadata.name, namespace: ns }),
      ),
    ).toBe(false);
    expect(
      await exists(core.readNamespacedService({ name: a.service.metadata.name, namespace: ns })),
    ).toBe(false);
    await expect(cluster.remove(a)).resolves.toBeUndefined();
  });
});

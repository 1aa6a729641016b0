import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { renderManifests, type DeploymentManifests } from '../../core/deployments';
import type { RegionalDeployment } from '../../core/model';
import { AppliedCluster } from './applied-cluster';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary Kubernetes objects
type KubeObject = Record<string, any>;

/**
 * A stand-in for the Kubernetes API server. A real kube-apiserver can be built here (about ten
 * minutes from the Go module proxy) but not within a unit run, so these tests keep to the
 * pattern this file started with, and test/integration/applied-cluster.int.spec.ts runs the
 * refusals against a real one. The stand-in serves only the paths AppliedCluster calls and
 * answers as the real API does for them (checked against v1.36.3). It keeps
 * objects in memory with a uid and a resourceVersion, answers 409 AlreadyExists for existing
 * objects, 404 for missing ones, 409 Conflict when a replace names an outdated resourceVersion
 * or a delete's preconditions do not hold, and records every request.
 */
class StandInApiServer {
  readonly objects = new Map<string, KubeObject>();
  readonly requests: {
    method: string;
    path: string;
    auth: string | undefined;
    body?: KubeObject;
  }[] = [];
  rollout: { available: number; stalled?: string } = { available: 0 };
  /** Runs after a GET of an object is answered: lets a test change the object in between. */
  afterRead: ((path: string) => void) | undefined;
  private server!: Server;
  private version = 0;
  url = '';

  async start() {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop() {
    return new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Stores an object as the API server would: with a fresh uid and resourceVersion. */
  put(path: string, body: KubeObject, uid = randomUUID()) {
    const stored = {
      ...body,
      metadata: { ...body['metadata'], uid, resourceVersion: String(++this.version) },
    };
    this.objects.set(path, stored);
    return stored;
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const path = (req.url ?? '').split('?')[0]!;
    this.requests.push({ method: req.method!, path, auth: req.headers.authorization, body });
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    const notFound = () => send(404, { kind: 'Status', code: 404, reason: 'NotFound' });
    const conflict = (reason: string) => send(409, { kind: 'Status', code: 409, reason });
    const status = /^(.*\/deployments\/[^/]+)\/status$/.exec(path);
    if (req.method === 'GET' && status) {
      const d = this.objects.get(status[1]!);
      if (!d) return notFound();
      return send(200, {
        ...d,
        metadata: { ...d['metadata'], generation: 1 },
        status: {
          observedGeneration: 1,
          availableReplicas: this.rollout.available,
          updatedReplicas: this.rollout.available,
          conditions: this.rollout.stalled
            ? [
                {
                  type: 'Progressing',
                  status: 'False',
                  reason: 'ProgressDeadlineExceeded',
                  message: this.rollout.stalled,
                },
              ]
            : [],
        },
      });
    }
    if (req.method === 'GET') {
      const found = this.objects.get(path);
      if (!found) return notFound();
      send(200, found);
      this.afterRead?.(path);
      return;
    }
    if (req.method === 'POST') {
      const key = `${path}/${body.metadata.name}`;
      if (this.objects.has(key)) return conflict('AlreadyExists');
      return send(201, this.put(key, body));
    }
    if (req.method === 'PUT') {
      const current = this.objects.get(path);
      if (!current) return notFound();
      const wanted = body.metadata?.resourceVersion;
      if (wanted && wanted !== current['metadata'].resourceVersion) return conflict('Conflict');
      return send(200, this.put(path, body, current['metadata'].uid));
    }
    if (req.method === 'DELETE') {
      const current = this.objects.get(path);
      if (!current) return notFound();
      const pre = body?.preconditions ?? {};
      if (
        (pre.uid && pre.uid !== current['metadata'].uid) ||
        (pre.resourceVersion && pre.resourceVersion !== current['metadata'].resourceVersion)
      )
        return conflict('Conflict');
      this.objects.delete(path);
      return send(200, { kind: 'Status', status: 'Success' });
    }
    return notFound();
  }
}

const deployment: RegionalDeployment = {
  id: '6f0c9a51-2f43-4b7e-9c39-0d2f5e8a1b22',
  tenantId: 'acme',
  jurisdiction: 'DE',
  region: 'eu-central-1',
  namespace: 'aion-sovereign-de-eu-central-1',
  modelId: 'llama-3.1-8b',
  modelVersion: '',
  image: 'registry.local/vllm:0.6.3',
  replicas: 2,
  status: 'PENDING',
  statusReason: '',
  endpoint: '',
  mode: 'apply',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

describe('AppliedCluster against a stand-in Kubernetes API', () => {
  const api = new StandInApiServer();
  let cluster: AppliedCluster;
  const manifests = renderManifests(deployment);
  const ns = deployment.namespace;
  const name = manifests.deployment.metadata.name;
  const deploymentPath = `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
  const servicePath = `/api/v1/namespaces/${ns}/services/${name}`;

  beforeAll(async () => {
    await api.start();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'stand-in', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'aion', token: 'stand-in-token' }],
      contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'aion' }],
      currentContext: 'stand-in',
    });
    cluster = new AppliedCluster(kc);
  });
  afterAll(() => api.stop());

  it('creates the namespace, deployment and service with the credentials of the kubeconfig', async () => {
    await cluster.deploy(manifests);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/v1/namespaces',
      `POST /apis/apps/v1/namespaces/${ns}/deployments`,
      `POST /api/v1/namespaces/${ns}/services`,
    ]);
    expect(api.requests.every((r) => r.auth === 'Bearer stand-in-token')).toBe(true);
    const stored = api.objects.get(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`)!;
    expect(stored['metadata']['labels']).toMatchObject({ 'aion.io/jurisdiction': 'de' });
    expect(stored['spec']['replicas']).toBe(2);
  });

  it('replaces its own objects on a second apply, reading each first, and keeps the namespace', async () => {
    api.requests.length = 0;
    const readVersion = api.objects.get(deploymentPath)!['metadata'].resourceVersion;
    await cluster.deploy({
      ...manifests,
      deployment: {
        ...manifests.deployment,
        spec: { ...(manifests.deployment['spec'] as object), replicas: 3 },
      },
    });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/v1/namespaces',
      `POST /apis/apps/v1/namespaces/${ns}/deployments`,
      `GET ${deploymentPath}`,
      `PUT ${deploymentPath}`,
      `POST /api/v1/namespaces/${ns}/services`,
      `GET ${servicePath}`,
      `PUT ${servicePath}`,
    ]);
    // The replace names the version it read, so a change made in between is not overwritten.
    expect(api.requests[3]!.body?.['metadata'].resourceVersion).toBe(readVersion);
    expect(api.objects.get(deploymentPath)!['spec']['replicas']).toBe(3);
  });

  it('reads the rollout: progressing, ready when every replica is available, failed when stalled', async () => {
    // The second apply asked for three replicas: two available is not done yet.
    api.rollout = { available: 2 };
    await expect(cluster.rollout(manifests)).resolves.toBe('progressing');
    api.rollout = { available: 3 };
    await expect(cluster.rollout(manifests)).resolves.toBe('ready');
    api.rollout = { available: 0, stalled: 'image pull back-off' };
    await expect(cluster.rollout(manifests)).resolves.toEqual({
      failed: expect.stringContaining('image pull back-off'),
    });
  });

  it('removes the workload it read, tolerating objects already gone', async () => {
    api.requests.length = 0;
    const { uid, resourceVersion } = api.objects.get(deploymentPath)!['metadata'];
    await cluster.remove(manifests);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${deploymentPath}`,
      `DELETE ${deploymentPath}`,
      `GET ${servicePath}`,
      `DELETE ${servicePath}`,
    ]);
    expect(api.requests[1]!.body).toMatchObject({ preconditions: { uid, resourceVersion } });
    expect(api.objects.has(deploymentPath)).toBe(false);
    expect(api.objects.has(servicePath)).toBe(false);
    await expect(cluster.remove(manifests)).resolves.toBeUndefined();
  });

  describe('two tenants deploying the same model in one region', () => {
    const ofA: RegionalDeployment = {
      ...deployment,
      id: '1a2b3c4d-0000-4000-8000-00000000000a',
      tenantId: 'tenant-a',
      image: 'registry.local/tenant-a/vllm:1',
    };
    const ofB: RegionalDeployment = {
      ...deployment,
      id: '1a2b3c4d-0000-4000-8000-00000000000b',
      tenantId: 'tenant-b',
      image: 'registry.local/tenant-b/vllm:1',
    };
    const a = renderManifests(ofA);
    const b = renderManifests(ofB);
    const pathOf = (m: DeploymentManifests) =>
      `/apis/apps/v1/namespaces/${ns}/deployments/${m.deployment.metadata.name}`;
    const imageAt = (p: string) =>
      api.objects.get(p)?.['spec']['template']['spec']['containers'][0]['image'];
    /** B's manifests under A's names: the collision that distinct names prevent, forced. */
    const forged: DeploymentManifests = {
      ...b,
      deployment: {
        ...b.deployment,
        metadata: { ...b.deployment.metadata, name: a.deployment.metadata.name },
      },
      service: { ...b.service, metadata: { ...b.service.metadata, name: a.service.metadata.name } },
    };
    const writes = () =>
      api.requests.filter((r) => r.method === 'PUT' || r.method === 'DELETE').map((r) => r.path);

    it("get objects of their own; B's decommission leaves A's", async () => {
      await cluster.deploy(a);
      await cluster.deploy(b);
      expect(pathOf(a)).not.toBe(pathOf(b));
      expect(imageAt(pathOf(a))).toBe(ofA.image);
      expect(imageAt(pathOf(b))).toBe(ofB.image);
      await cluster.remove(b);
      expect(api.objects.has(pathOf(b))).toBe(false);
      expect(imageAt(pathOf(a))).toBe(ofA.image);
      expect(api.objects.has(`/api/v1/namespaces/${ns}/services/${a.service.metadata.name}`)).toBe(
        true,
      );
    });

    it('refuses to replace or delete an object labelled with another tenant, and sends no write', async () => {
      api.requests.length = 0;
      await expect(cluster.deploy(forged)).rejects.toMatchObject({
        code: 'state.conflict',
        message: expect.stringContaining('another tenant'),
      });
      await expect(cluster.remove(forged)).rejects.toMatchObject({ code: 'state.conflict' });
      expect(writes()).toEqual([]);
      expect(imageAt(pathOf(a))).toBe(ofA.image);
    });

    it('refuses objects under its name that Aion did not create', async () => {
      const own = renderManifests({ ...ofA, id: '1a2b3c4d-0000-4000-8000-00000000000c' });
      const handMade = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: own.deployment.metadata.name, namespace: ns },
        spec: {},
      };
      api.put(pathOf(own), handMade);
      api.requests.length = 0;
      await expect(cluster.deploy(own)).rejects.toMatchObject({ code: 'state.conflict' });
      await expect(cluster.remove(own)).rejects.toMatchObject({ code: 'state.conflict' });
      expect(writes()).toEqual([]);
      expect(api.objects.get(pathOf(own))!['metadata']['labels']).toBeUndefined();
    });

    it('does not overwrite a change made between its read and its replace', async () => {
      api.afterRead = (p) => {
        api.afterRead = undefined;
        const current = api.objects.get(p)!;
        api.put(p, current, current['metadata'].uid); // someone else's update: a new resourceVersion
      };
      await expect(cluster.deploy(a)).rejects.toThrow();
      expect(imageAt(pathOf(a))).toBe(ofA.image);
    });
  });

  it('surfaces API errors other than conflicts', async () => {
    const broken = new KubeConfig();
    broken.loadFromOptions({
      clusters: [{ name: 'down', server: 'http://127.0.0.1:9', skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'down', cluster: 'down', user: 'u' }],
      currentContext: 'down',
    });
    await expect(new AppliedCluster(broken).deploy(manifests)).rejects.toThrow();
  });
});

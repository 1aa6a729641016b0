import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { renderManifests } from '../../core/deployments';
import type { RegionalDeployment } from '../../core/model';
import { AppliedCluster } from './applied-cluster';

/**
 * A stand-in for a Kubernetes API server (no cluster can run on this machine): it serves only the
 * paths AppliedCluster calls, keeps objects in memory, answers 409 for existing objects and 404
 * for missing ones as the real API does, and records every request.
 */
class StandInApiServer {
  readonly objects = new Map<string, Record<string, any>>(); // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary Kubernetes objects
  readonly requests: { method: string; path: string; auth: string | undefined }[] = [];
  rollout: { available: number; stalled?: string } = { available: 0 };
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop() {
    return new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const path = (req.url ?? '').split('?')[0]!;
    this.requests.push({ method: req.method!, path, auth: req.headers.authorization });
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    const notFound = () => send(404, { kind: 'Status', code: 404, reason: 'NotFound' });
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
    if (req.method === 'POST') {
      const key = `${path}/${body.metadata.name}`;
      if (this.objects.has(key))
        return send(409, { kind: 'Status', code: 409, reason: 'AlreadyExists' });
      this.objects.set(key, body);
      return send(201, body);
    }
    if (req.method === 'PUT') {
      if (!this.objects.has(path)) return notFound();
      this.objects.set(path, body);
      return send(200, body);
    }
    if (req.method === 'DELETE') {
      if (!this.objects.delete(path)) return notFound();
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

  it('replaces existing objects on a second apply and keeps the namespace', async () => {
    api.requests.length = 0;
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
      `PUT /apis/apps/v1/namespaces/${ns}/deployments/${name}`,
      `POST /api/v1/namespaces/${ns}/services`,
      `PUT /api/v1/namespaces/${ns}/services/${name}`,
    ]);
    expect(
      api.objects.get(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`)!['spec']['replicas'],
    ).toBe(3);
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

  it('removes the workload, tolerating objects already gone', async () => {
    await cluster.remove(manifests);
    expect(api.objects.has(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`)).toBe(false);
    await expect(cluster.remove(manifests)).resolves.toBeUndefined();
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

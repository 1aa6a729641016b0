import { JurisdictionRegistry } from '@aion/jurisdictions';
import { createLogger } from '@aion/telemetry';
import { AionError } from '@aion/errors';
import { requireTenant, runWithTenant } from '@aion/tenancy';
import { DeploymentService } from './deployment-service';
import { assertDeploymentTransition, type ClusterPort } from './deployments';
import type { DeploymentStatus, RegionalDeployment, SovereignModel } from './model';
import type { DeploymentStore, ModelStore, NewDeployment, PolicyStore, RoutingLog } from './ports';
import type { ResidencyService } from './residency-service';

const jurisdictions = new JurisdictionRegistry();
const tenant = { tenantId: 't', subject: 'ops', roles: ['admin'], requestId: 'r' };
const approved: SovereignModel = {
  id: 'm1',
  tenantId: 't',
  modelRef: 'llama',
  name: 'llama',
  version: '',
  jurisdiction: 'EU',
  status: 'APPROVED',
  registeredBy: 'dev',
  registeredByOwner: 'dev',
  decidedBy: 'ops',
  decisionReason: '',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

/** Deployments in memory, moved through the same state machine as the PostgreSQL store. */
class MemoryDeployments implements Pick<DeploymentStore, 'create' | 'transition' | 'get'> {
  readonly rows = new Map<string, RegionalDeployment>();
  readonly history: DeploymentStatus[] = [];
  async create(id: string, d: NewDeployment) {
    const row: RegionalDeployment = {
      ...d,
      id,
      tenantId: requireTenant().tenantId,
      status: 'PENDING',
      statusReason: '',
      endpoint: '',
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    this.rows.set(id, row);
    this.history.push('PENDING');
    return row;
  }
  async transition(id: string, to: DeploymentStatus, reason: string, endpoint?: string) {
    const row = this.rows.get(id)!;
    assertDeploymentTransition(row, to);
    const next = { ...row, status: to, statusReason: reason, endpoint: endpoint ?? row.endpoint };
    this.rows.set(id, next);
    this.history.push(to);
    return next;
  }
  async get(id: string) {
    return this.rows.get(id);
  }
}

function service(cluster: ClusterPort, rolloutTimeoutMs = 1_000) {
  const store = new MemoryDeployments();
  const models: Pick<ModelStore, 'all'> = { all: async () => [approved] };
  const svc = new DeploymentService(
    store as unknown as DeploymentStore,
    models as ModelStore,
    {} as PolicyStore,
    {} as ResidencyService,
    {} as RoutingLog,
    cluster,
    jurisdictions,
    { namespacePrefix: 'aion-sovereign', rolloutTimeoutMs, rolloutPollMs: 5 },
    createLogger({ service: 'test', level: 'error' }),
  );
  return { svc, store };
}
const deploy = (svc: DeploymentService, jurisdiction = 'DE', as = tenant) =>
  runWithTenant(as, () =>
    svc.deploy({
      jurisdiction,
      region: 'eu-central-1',
      modelId: 'llama',
      modelVersion: '',
      image: 'registry.local/vllm:1',
      replicas: 1,
    }),
  );

describe('DeploymentService in apply mode', () => {
  it('applies, watches the rollout and marks the deployment ACTIVE', async () => {
    let polls = 0;
    const { svc, store } = service({
      mode: 'apply',
      deploy: async () => undefined,
      rollout: async () => (++polls < 3 ? 'progressing' : 'ready'),
      remove: async () => undefined,
    });
    const { deployment, manifests } = await deploy(svc);
    expect(deployment).toMatchObject({
      status: 'DEPLOYING',
      namespace: 'aion-sovereign-de-eu-central-1',
    });
    expect(deployment.endpoint).toMatch(
      /^http:\/\/model-llama-[0-9a-f]{16}\.aion-sovereign-de-eu-central-1\.svc\.cluster\.local\/v1$/,
    );
    expect(manifests).toContain('kind: Namespace');
    await svc.drain();
    expect(store.history).toEqual(['PENDING', 'DEPLOYING', 'ACTIVE']);
  });

  it('marks it FAILED when the cluster refuses the manifests, a rollout stalls, or it times out', async () => {
    const refused = service({
      mode: 'apply',
      deploy: async () => Promise.reject(new Error('forbidden: quota')),
      rollout: async () => 'ready',
      remove: async () => undefined,
    });
    const out = await deploy(refused.svc);
    expect(out.deployment).toMatchObject({
      status: 'FAILED',
      statusReason: expect.stringContaining('forbidden: quota'),
    });

    const stalled = service({
      mode: 'apply',
      deploy: async () => undefined,
      rollout: async () => ({ failed: 'ImagePullBackOff' }),
      remove: async () => undefined,
    });
    const s = await deploy(stalled.svc);
    await stalled.svc.drain();
    expect(stalled.store.rows.get(s.deployment.id)).toMatchObject({
      status: 'FAILED',
      statusReason: 'ImagePullBackOff',
    });

    const slow = service(
      {
        mode: 'apply',
        deploy: async () => undefined,
        rollout: async () => 'progressing',
        remove: async () => undefined,
      },
      30,
    );
    const t = await deploy(slow.svc);
    await slow.svc.drain();
    expect(slow.store.rows.get(t.deployment.id)!.statusReason).toMatch(
      /rollout not complete after 30 ms/,
    );
  });

  it('gives two tenants deploying the same model in one region their own workloads', async () => {
    const applied: string[] = [];
    const { svc } = service({
      mode: 'apply',
      deploy: async (m) => void applied.push(m.deployment.metadata.name),
      rollout: async () => 'ready',
      remove: async () => undefined,
    });
    const a = await deploy(svc, 'DE', { ...tenant, tenantId: 'tenant-a' });
    const b = await deploy(svc, 'DE', { ...tenant, tenantId: 'tenant-b' });
    await svc.drain();
    expect(a.deployment.namespace).toBe(b.deployment.namespace);
    expect(a.deployment.endpoint).not.toBe(b.deployment.endpoint);
    expect(new Set(applied).size).toBe(2);
  });

  it("answers the cluster's refusal to touch another tenant's object with its error, and marks the deployment FAILED", async () => {
    const refusal = new AionError(
      'state.conflict',
      'Deployment aion-sovereign-de-eu-central-1/model-llama-x exists and belongs to another tenant',
    );
    const { svc, store } = service({
      mode: 'apply',
      deploy: async () => Promise.reject(refusal),
      rollout: async () => 'ready',
      remove: async () => Promise.reject(refusal),
    });
    await expect(deploy(svc)).rejects.toBe(refusal);
    const [row] = [...store.rows.values()];
    expect(row).toMatchObject({
      status: 'FAILED',
      statusReason: expect.stringContaining('belongs to another tenant'),
    });
    await expect(
      runWithTenant(tenant, () => svc.updateStatus(row!.id, 'DECOMMISSIONED', '')),
    ).rejects.toBe(refusal);
    expect(store.rows.get(row!.id)!.status).toBe('FAILED');
  });

  it('refuses a model that is not approved in the jurisdiction, and bad regions', async () => {
    const { svc } = service({
      mode: 'apply',
      deploy: async () => undefined,
      rollout: async () => 'ready',
      remove: async () => undefined,
    });
    await expect(deploy(svc, 'US')).rejects.toMatchObject({ code: 'sovereign.model_not_approved' });
    await expect(
      runWithTenant(tenant, () =>
        svc.deploy({
          jurisdiction: 'DE',
          region: 'EU Central',
          modelId: 'llama',
          modelVersion: '',
          image: 'img',
          replicas: 1,
        }),
      ),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
  });

  it('decommissions by removing the workload from the cluster', async () => {
    const removed: string[] = [];
    const { svc } = service({
      mode: 'render',
      deploy: async () => undefined,
      rollout: async () => 'unknown',
      remove: async (m) => void removed.push(m.namespace.metadata.name),
    });
    const { deployment } = await deploy(svc);
    const done = await runWithTenant(tenant, () =>
      svc.updateStatus(deployment.id, 'DECOMMISSIONED', ''),
    );
    expect(done.status).toBe('DECOMMISSIONED');
    expect(removed).toEqual(['aion-sovereign-de-eu-central-1']);
    await expect(
      runWithTenant(tenant, () => svc.updateStatus(deployment.id, 'ACTIVE', '')),
    ).rejects.toMatchObject({ code: 'state.conflict' });
  });
});

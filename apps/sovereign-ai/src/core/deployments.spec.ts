import { parseAllDocuments } from 'yaml';
import type { RegionalDeployment } from './model';
import {
  assertDeploymentTransition,
  endpointOf,
  foreignOwnership,
  k8sSafe,
  namespaceFor,
  renderManifests,
} from './deployments';

const d: RegionalDeployment = {
  id: '0b6c2a4e-1111-4222-8333-944455556666',
  tenantId: 'Acme_Corp',
  jurisdiction: 'DE',
  region: 'eu-central-1',
  namespace: 'aion-sovereign-de-eu-central-1',
  modelId: 'hf:meta/Llama-3.1-8B',
  modelVersion: '2024-07',
  image: 'registry.local/vllm:0.6.3',
  replicas: 2,
  status: 'PENDING',
  statusReason: '',
  endpoint: '',
  mode: 'render',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

describe('namespaceFor', () => {
  it('is {prefix}-{jurisdiction lower-case}-{region}', () => {
    expect(namespaceFor('aion-sovereign', 'DE', 'eu-central-1')).toBe(
      'aion-sovereign-de-eu-central-1',
    );
    expect(namespaceFor('acme', 'EU', 'west')).toBe('acme-eu-west');
  });

  it('refuses regions that would not make a DNS label, and names longer than 63', () => {
    for (const region of ['EU_Central', '-x', 'a b', '', 'x'.repeat(40)])
      expect(() => namespaceFor('aion-sovereign', 'DE', region)).toThrow(
        expect.objectContaining({ code: 'validation.invalid_argument' }),
      );
    expect(() => namespaceFor('p'.repeat(40), 'DE', 'r'.repeat(25))).toThrow(
      /not a valid Kubernetes namespace/,
    );
  });
});

describe('k8sSafe', () => {
  it('makes label-safe values that stay distinct', () => {
    const a = k8sSafe('Acme_Corp');
    const b = k8sSafe('acme-corp');
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a).not.toBe(b);
    expect(k8sSafe('x'.repeat(200)).length).toBeLessThanOrEqual(63);
  });
});

describe('renderManifests', () => {
  it('renders a Namespace, Deployment and Service labelled with tenant, jurisdiction and model', () => {
    const m = renderManifests(d);
    expect(m.namespace.metadata.name).toBe('aion-sovereign-de-eu-central-1');
    for (const o of [m.deployment, m.service]) {
      expect(o.metadata.namespace).toBe(d.namespace);
      expect(o.metadata.labels).toMatchObject({
        'aion.io/tenant': k8sSafe('Acme_Corp'),
        'aion.io/jurisdiction': 'de',
        'aion.io/model': k8sSafe(d.modelId),
      });
      expect(o.metadata.annotations).toMatchObject({
        'aion.io/tenant': 'Acme_Corp',
        'aion.io/model': d.modelId,
      });
      for (const value of Object.values(o.metadata.labels ?? {}))
        expect(value).toMatch(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
    }
    const spec = m.deployment['spec'] as {
      replicas: number;
      selector: { matchLabels: object };
      template: { metadata: { labels: object } };
    };
    expect(spec.replicas).toBe(2);
    expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
    expect((m.service['spec'] as { selector: object }).selector).toEqual(spec.selector.matchLabels);
    // Round-trips through YAML as three valid documents.
    const docs = parseAllDocuments(
      [m.namespace, m.deployment, m.service].map((o) => JSON.stringify(o)).join('\n---\n'),
    );
    expect(docs.map((doc) => doc.errors.length)).toEqual([0, 0, 0]);
  });
});

describe('names of two tenants deploying the same model in one region', () => {
  const ofA: RegionalDeployment = { ...d, tenantId: 'tenant-a' };
  const ofB: RegionalDeployment = {
    ...d,
    tenantId: 'tenant-b',
    id: '7d1e3b5f-2222-4333-8444-a55566667777',
  };

  it('are distinct in the shared regional namespace, each object labelled with its own tenant', () => {
    const [a, b] = [renderManifests(ofA), renderManifests(ofB)];
    expect(a.namespace.metadata.name).toBe(b.namespace.metadata.name);
    for (const kind of ['deployment', 'service'] as const) {
      expect(a[kind].metadata.name).not.toBe(b[kind].metadata.name);
      expect(a[kind].metadata.labels?.['aion.io/tenant']).toBe(k8sSafe('tenant-a'));
      expect(b[kind].metadata.labels?.['aion.io/tenant']).toBe(k8sSafe('tenant-b'));
    }
    expect(endpointOf(ofA)).not.toBe(endpointOf(ofB));
  });

  it('differ even for tenant ids that clean to the same text, everything else equal', () => {
    const x = renderManifests({ ...d, tenantId: 'Acme_Corp' });
    const y = renderManifests({ ...d, tenantId: 'acme-corp' });
    expect(x.deployment.metadata.name).not.toBe(y.deployment.metadata.name);
  });

  it('are DNS-1035 labels of at most 63 characters whatever the model id', () => {
    for (const modelId of [d.modelId, 'x'.repeat(300), '___', '9-lives', 'Ünïcödé/model:v1']) {
      const name = renderManifests({ ...d, modelId }).deployment.metadata.name;
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    }
  });
});

describe('foreignOwnership', () => {
  const own = renderManifests(d).deployment;
  const withMeta = (labels: object, annotations: object) => ({
    metadata: {
      labels: { ...own.metadata.labels, ...labels },
      annotations: { ...own.metadata.annotations, ...annotations },
    },
  });

  it("lets only the same tenant's same deployment be replaced or deleted", () => {
    expect(foreignOwnership(own, own)).toBeUndefined();
    expect(foreignOwnership(renderManifests({ ...d, tenantId: 'other' }).deployment, own)).toBe(
      'belongs to another tenant',
    );
    // A label that cleans to the same text, or an annotation alone, is not enough.
    expect(foreignOwnership(withMeta({}, { 'aion.io/tenant': 'acme_corp' }), own)).toBe(
      'belongs to another tenant',
    );
    expect(foreignOwnership(withMeta({ 'aion.io/tenant': 'x' }, {}), own)).toBe(
      'belongs to another tenant',
    );
    expect(
      foreignOwnership(withMeta({}, { 'aion.io/deployment-id': 'another-deployment' }), own),
    ).toBe('belongs to another deployment');
    expect(foreignOwnership(withMeta({ 'app.kubernetes.io/managed-by': 'helm' }, {}), own)).toBe(
      'was not created by Aion',
    );
    expect(foreignOwnership(undefined, own)).toBe('was not created by Aion');
    expect(foreignOwnership({}, own)).toBe('was not created by Aion');
  });
});

describe('deployment states', () => {
  it('moves PENDING -> DEPLOYING -> ACTIVE and never out of DECOMMISSIONED', () => {
    expect(() =>
      assertDeploymentTransition({ ...d, status: 'PENDING' }, 'DEPLOYING'),
    ).not.toThrow();
    expect(() => assertDeploymentTransition({ ...d, status: 'DEPLOYING' }, 'ACTIVE')).not.toThrow();
    expect(() => assertDeploymentTransition({ ...d, status: 'PENDING' }, 'ACTIVE')).toThrow(
      /cannot become ACTIVE/,
    );
    expect(() =>
      assertDeploymentTransition({ ...d, status: 'DECOMMISSIONED' }, 'DEPLOYING'),
    ).toThrow(/final/);
  });
});

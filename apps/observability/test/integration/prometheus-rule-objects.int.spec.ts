import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import {
  describeWithKubeApiServer,
  startKubeControlPlane,
  type KubeControlPlane,
} from '@aion/testing';
import {
  PrometheusRuleObjects,
  ruleObjectName,
} from '../../src/adapters/k8s/prometheus-rule-objects';
import { tenantRuleFile } from '../../src/core/rule-sync';
import { resolveSlo } from '../../src/core/slo-spec';
import type { Slo } from '../../src/core/model';

// A tenant's rules as a PrometheusRule object for the Prometheus Operator, on a real
// kube-apiserver (tools/infra/kube-apiserver.sh). The operator itself is not run: the test
// installs a PrometheusRule CRD of the operator's group, version and kind whose schema keeps every
// field, and checks the objects the adapter writes.

const NS = 'monitoring';
const at = {
  group: 'monitoring.coreos.com',
  version: 'v1',
  namespace: NS,
  plural: 'prometheusrules',
};
const slo = (tenantId: string, objective: number): Slo => ({
  ...resolveSlo({
    name: 'gateway-availability',
    service: 'gateway',
    sli: 'availability',
    metric: '',
    matchers: {},
    latencyThresholdMs: 0,
    objective,
    windowDays: 30,
    description: '',
  }),
  id: '6f1c0b7e-4d7a-4a53-9e59-0a4f4c1f2a11',
  tenantId,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

type Obj = {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: { groups: { name: string; rules: { alert?: string; expr: string }[] }[] };
};

describeWithKubeApiServer('PrometheusRule objects on a real kube-apiserver', (kubeApiServer) => {
  let plane: KubeControlPlane;
  let sink: PrometheusRuleObjects;
  let objects: CustomObjectsApi;
  const read = (tenant: string) =>
    objects.getNamespacedCustomObject({ ...at, name: ruleObjectName(tenant) }) as Promise<Obj>;

  beforeAll(async () => {
    plane = await startKubeControlPlane(kubeApiServer);
    const ext = plane.kubeConfig.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: 'prometheusrules.monitoring.coreos.com' },
        spec: {
          group: 'monitoring.coreos.com',
          scope: 'Namespaced',
          names: {
            kind: 'PrometheusRule',
            plural: 'prometheusrules',
            singular: 'prometheusrule',
            listKind: 'PrometheusRuleList',
          },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
                  },
                },
              },
            },
          ],
        },
      },
    });
    await plane.kubeConfig
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: NS } } });
    objects = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    // The CRD is served once established.
    for (let i = 0; ; i++) {
      try {
        await objects.listNamespacedCustomObject({ ...at });
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    sink = new PrometheusRuleObjects(plane.kubeConfig, NS, { release: 'prometheus' });
  }, 90_000);
  afterAll(() => plane?.stop(), 60_000);

  it("writes a tenant's rules as one object the operator's selector finds, and replaces it on change", async () => {
    await sink.write('Tenant_A', tenantRuleFile('Tenant_A', [slo('Tenant_A', 0.995)], []));
    const first = await read('Tenant_A');
    expect(ruleObjectName('Tenant_A')).toMatch(/^aion-rules-tenant-a-[0-9a-f]{10}$/);
    expect(first.metadata.labels).toMatchObject({
      release: 'prometheus',
      'app.kubernetes.io/managed-by': 'aion-observability',
    });
    expect(first.metadata.annotations['aion.io/tenant']).toBe('Tenant_A');
    expect(first.spec.groups[0]!.rules.filter((r) => r.alert)).toHaveLength(3);
    expect(first.spec.groups[0]!.rules.find((r) => r.alert)!.expr).toContain('> 0.072');

    await sink.write('Tenant_A', tenantRuleFile('Tenant_A', [slo('Tenant_A', 0.99)], []));
    expect((await read('Tenant_A')).spec.groups[0]!.rules.find((r) => r.alert)!.expr).toContain(
      '> 0.144',
    );
  });

  it("refuses to overwrite an object that is not the tenant's, and deletes the tenant's when it has no rules", async () => {
    await objects.createNamespacedCustomObject({
      ...at,
      body: {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: {
          name: ruleObjectName('tenant-b'),
          annotations: { 'aion.io/tenant': 'someone' },
        },
        spec: { groups: [] },
      },
    });
    await expect(
      sink.write('tenant-b', tenantRuleFile('tenant-b', [slo('tenant-b', 0.995)], [])),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    expect((await read('tenant-b')).spec.groups).toEqual([]);

    await sink.write('Tenant_A', { groups: [] });
    await expect(read('Tenant_A')).rejects.toMatchObject({ code: 404 });
    // Nothing to delete is not an error.
    await sink.write('Tenant_A', { groups: [] });
  });
});

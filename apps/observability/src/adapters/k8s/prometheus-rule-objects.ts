import { createHash } from 'node:crypto';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { AionError } from '@aion/errors';
import type { RuleFile } from '../../core/burn-rate';
import type { RuleSink } from '../../core/rule-sync';

const GROUP = 'monitoring.coreos.com';
const VERSION = 'v1';
const PLURAL = 'prometheusrules';
const TENANT_ANNOTATION = 'aion.io/tenant';
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'aion-observability' };

const statusOf = (err: unknown): number | undefined =>
  typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number'
    ? err.code
    : undefined;

/** A DNS-1123 name per tenant: tenant ids may hold capitals and _, so a hash keeps them apart. */
export const ruleObjectName = (tenantId: string) =>
  `aion-rules-${tenantId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40)}-${createHash('sha256').update(tenantId).digest('hex').slice(0, 10)}`;

type RuleObject = {
  metadata?: { annotations?: Record<string, string>; resourceVersion?: string };
};

/**
 * A tenant's rules as one `PrometheusRule` object for the Prometheus Operator, which loads it
 * into Prometheus itself. Replaced only when it is the same tenant's (annotation) and in the
 * version read; an empty rule file deletes it.
 */
export class PrometheusRuleObjects implements RuleSink {
  private readonly api: CustomObjectsApi;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    /** Labels the operator's ruleSelector matches. */
    private readonly labels: Record<string, string>,
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async write(tenantId: string, file: RuleFile): Promise<void> {
    const name = ruleObjectName(tenantId);
    const at = { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL, name };
    try {
      let current: RuleObject | undefined;
      try {
        current = (await this.api.getNamespacedCustomObject(at)) as RuleObject;
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
      const owner = current?.metadata?.annotations?.[TENANT_ANNOTATION];
      if (current && owner !== tenantId)
        throw AionError.conflict(
          `PrometheusRule ${this.namespace}/${name} exists and is not this tenant's`,
        );
      if (file.groups.length === 0) {
        if (current)
          await this.api.deleteNamespacedCustomObject({
            ...at,
            body: { preconditions: { resourceVersion: current.metadata?.resourceVersion } },
          });
        return;
      }
      const body = {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'PrometheusRule',
        metadata: {
          name,
          namespace: this.namespace,
          labels: { ...this.labels, ...MANAGED_BY },
          annotations: { [TENANT_ANNOTATION]: tenantId },
          ...(current ? { resourceVersion: current.metadata?.resourceVersion } : {}),
        },
        spec: { groups: file.groups },
      };
      if (current) await this.api.replaceNamespacedCustomObject({ ...at, body });
      else
        await this.api.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: this.namespace,
          plural: PLURAL,
          body,
        });
    } catch (err) {
      if (err instanceof AionError) throw err;
      throw new AionError(
        'service.unavailable',
        `the Kubernetes API refused the PrometheusRule (${statusOf(err) ?? 'no answer'})`,
        { cause: err },
      );
    }
  }
}

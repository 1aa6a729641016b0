import { SERVICE_PREFIXES, type ServiceName } from '@aion/config';
import { sloRules, type RuleFile } from './burn-rate';
import { DEFAULT_WINDOW_DAYS, type Slo } from './model';
import { resolveSlo } from './slo-spec';

/**
 * The platform's own SLOs, which the Helm chart ships as a PrometheusRule: the availability of
 * every service as its tenants' SLOs would measure it (the gateway at its REST edge, the others by
 * the gRPC calls they serve), under the same burn-rate generator, so the chart's alerts have the
 * ticket window and the minimum-traffic guard tenants' alerts have.
 */

/** Objectives the chart offers (monitoring.prometheusRules.availabilityObjective), one file each. */
export const PLATFORM_OBJECTIVES = [0.99, 0.995, 0.999, 0.9995] as const;
export type PlatformObjective = (typeof PLATFORM_OBJECTIVES)[number];

/**
 * Stands for the release namespace in the chart's files; the PrometheusRule template replaces it,
 * so each release's rules read only its own pods' series and record series of their own.
 */
export const RELEASE_NAMESPACE = '__AION_RELEASE_NAMESPACE__';

const SERVICES = Object.keys(SERVICE_PREFIXES) as ServiceName[];

/** One availability SLO per service, owned by no tenant (its alerts carry no tenant_id). */
export function platformSlos(objective: PlatformObjective): Slo[] {
  return SERVICES.map((service) => ({
    ...resolveSlo({
      name: `${service} availability`,
      service,
      sli: 'availability',
      metric: '',
      matchers: {},
      latencyThresholdMs: 0,
      objective,
      windowDays: DEFAULT_WINDOW_DAYS,
      description: `The platform's ${service} answers without a server fault`,
    }),
    id: `platform-${service}-availability`,
    tenantId: '',
    createdAt: new Date(0),
    updatedAt: new Date(0),
  }));
}

/** The rule groups of the platform SLOs, narrowed to one namespace. */
export function platformRules(objective: PlatformObjective, namespace: string): RuleFile {
  return {
    groups: platformSlos(objective).flatMap((slo) => sloRules(slo, { namespace }).groups),
  };
}

/** Where the chart keeps the rules of an objective (tools/build/write-rules.ts writes them). */
export const chartRuleFile = (objective: PlatformObjective) =>
  `charts/aion/files/rules/platform-slos-${objective}.yaml`;

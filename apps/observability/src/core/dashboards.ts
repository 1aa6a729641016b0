import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { panel, type PlatformDashboard } from './dashboard-panels';
import { agentWorkflow, costAttribution, llmOperations } from './dashboards-operations';
import { executive, governance, securityPosture } from './dashboards-oversight';

export type { PlatformDashboard } from './dashboard-panels';

/**
 * Requests, errors and latency of every service, module hosts' queues and GPU pools, and the
 * dependencies each one checks.
 */
function infrastructure(): PlatformDashboard {
  const builder = new DashboardBuilder('Aion / Infrastructure')
    .uid('aion-infrastructure')
    .tags(['aion', 'generated'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .withRow(new RowBuilder('REST edge'))
    .withPanel(
      panel('HTTP requests by status', 'reqps', [
        'sum by (service, status) (rate(aion_http_requests_total[$__rate_interval]))',
        '{{service}} {{status}}',
      ]),
    )
    .withPanel(
      panel('HTTP p95 latency', 's', [
        'histogram_quantile(0.95, sum by (service, le) (rate(aion_http_request_duration_seconds_bucket[$__rate_interval])))',
        '{{service}}',
      ]),
    )
    .withRow(new RowBuilder('gRPC between services'))
    .withPanel(
      panel('gRPC calls by code', 'reqps', [
        'sum by (service, code) (rate(aion_grpc_server_handled_total[$__rate_interval]))',
        '{{service}} {{code}}',
      ]),
    )
    .withPanel(
      panel('gRPC p95 latency', 's', [
        'histogram_quantile(0.95, sum by (service, le) (rate(aion_grpc_server_handling_seconds_bucket[$__rate_interval])))',
        '{{service}}',
      ]),
    )
    .withRow(new RowBuilder('Kafka consumers'))
    .withPanel(
      panel('Messages by outcome', 'ops', [
        'sum by (topic, outcome) (rate(aion_kafka_consumer_messages_total[$__rate_interval]))',
        '{{topic}} {{outcome}}',
      ]),
    )
    .withRow(new RowBuilder('Module hosts and GPU pools'))
    .withPanel(
      panel('Invocations waiting for a sandbox', 'short', [
        'max by (pool) (aion_module_queue_depth)',
        '{{pool}}',
      ]),
    )
    .withPanel(
      panel('Subprocess runs by limits', 'ops', [
        'sum by (pool, limits) (rate(aion_module_host_subprocess_runs_total[$__rate_interval]))',
        '{{pool}} {{limits}}',
      ]),
    )
    .withPanel(
      panel('GPU utilisation', 'percentunit', [
        'avg by (pool, vendor) (aion_gpu_utilization_ratio)',
        '{{pool}} {{vendor}}',
      ]),
    )
    .withPanel(
      panel('GPU memory in use', 'percentunit', [
        'sum by (pool) (aion_gpu_memory_used_bytes) / sum by (pool) (aion_gpu_memory_total_bytes)',
        '{{pool}}',
      ]),
    )
    .withRow(new RowBuilder('Dependencies and processes'))
    .withPanel(
      panel('Dependencies up', 'short', [
        'min by (service, dependency) (aion_dependency_up)',
        '{{service}} {{dependency}}',
      ]),
    )
    .withPanel(
      panel(
        'Process CPU and heap',
        'short',
        ['sum by (service) (rate(process_cpu_seconds_total[$__rate_interval]))', '{{service}} cpu'],
        ['sum by (service) (nodejs_heap_size_used_bytes) / 1e9', '{{service}} heap GB'],
      ),
    );
  return {
    uid: 'aion-infrastructure',
    title: 'Aion / Infrastructure',
    model: builder.build() as unknown as Record<string, unknown>,
  };
}

/** The seven dashboards the platform ships (issue 16). */
export function platformDashboards(): PlatformDashboard[] {
  return [
    infrastructure(),
    llmOperations(),
    agentWorkflow(),
    governance(),
    executive(),
    costAttribution(),
    securityPosture(),
  ];
}

/** Every PromQL expression of a dashboard's panels. */
export function dashboardQueries(model: Record<string, unknown>): string[] {
  const panels = (model['panels'] ?? []) as { targets?: { expr?: string }[] }[];
  return panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).filter(Boolean);
}

/** Where the Helm chart keeps a platform dashboard (repository-relative). */
export const chartDashboardFile = (uid: string) => `charts/aion/dashboards/${uid}.json`;

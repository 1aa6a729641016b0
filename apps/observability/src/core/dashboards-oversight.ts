import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  built,
  dashboard,
  panel,
  quantileBy,
  rateBy,
  stat,
  type PlatformDashboard,
} from './dashboard-panels';

const day = (selector: string) => `sum(increase(${selector}[1d]))`;

/** Data residency, where work ran, and the audit trail's intake. */
export function governance(): PlatformDashboard {
  return built(
    dashboard(
      'aion-governance',
      'Aion / Governance and compliance',
      'Residency decisions, the engines tasks ran on, and the audit and usage events recorded.',
      'now-24h',
    )
      .withPanel(
        stat(
          'Residency denials (24 h)',
          'short',
          day('aion_residency_decisions_total{outcome="denied"}'),
        ),
      )
      .withPanel(
        stat(
          'Tasks placed by residency (24 h)',
          'short',
          day('aion_residency_decisions_total{outcome="allowed"}'),
        ),
      )
      .withPanel(
        stat(
          'Dead-lettered events (24 h)',
          'short',
          day('aion_kafka_consumer_messages_total{outcome="dead_lettered"}'),
          'Events no consumer could process; the dead-letter queue holds them for replay.',
        ),
      )
      .withRow(new RowBuilder('Residency'))
      .withPanel(
        panel('Residency decisions by outcome', 'ops', [
          rateBy('outcome', 'aion_residency_decisions_total'),
          '{{outcome}}',
        ]),
      )
      .withPanel(
        panel('Finished tasks by engine (per hour)', 'short', [
          `${rateBy('engine', 'aion_tasks_total')} * 3600`,
          '{{engine}}',
        ]),
      )
      .withRow(new RowBuilder('Audit trail'))
      .withPanel(
        panel('Audit and usage events recorded', 'ops', [
          rateBy(
            'topic, outcome',
            'aion_kafka_consumer_messages_total{topic=~"audit.activity|usage.billing"}',
          ),
          '{{topic}} {{outcome}}',
        ]),
      )
      .withPanel(
        panel('Events waiting in outboxes', 's', [
          'max by (service) (aion_outbox_lag_seconds)',
          '{{service}}',
        ]),
      ),
  );
}

/** A day at a glance: volume, success, speed, availability and spend. */
export function executive(): PlatformDashboard {
  return built(
    dashboard(
      'aion-executive',
      'Aion / Executive',
      'The platform in a few numbers over the last day, and their trend.',
      'now-7d',
    )
      .withPanel(stat('Tasks (24 h)', 'short', day('aion_tasks_total')))
      .withPanel(
        stat(
          'Task success (24 h)',
          'percentunit',
          `${day('aion_tasks_total{status="OK"}')} / ${day('aion_tasks_total{status!="CANCELED"}')}`,
          'Tasks that finished OK among those not canceled by their client.',
        ),
      )
      .withPanel(
        stat(
          'Task p95 latency (24 h)',
          's',
          quantileBy(0.95, '', 'aion_task_duration_seconds_bucket{status="OK"}', '1d'),
        ),
      )
      .withPanel(
        stat(
          'API availability (24 h)',
          'percentunit',
          `1 - ${day('aion_http_requests_total{status=~"5.."}')} / ${day('aion_http_requests_total')}`,
        ),
      )
      .withPanel(stat('LLM spend (24 h)', 'currencyUSD', day('aion_llm_cost_usd_total')))
      .withPanel(
        stat(
          'Residency denials (24 h)',
          'short',
          day('aion_residency_decisions_total{outcome="denied"}'),
        ),
      )
      .withPanel(
        panel('Finished tasks per hour by status', 'short', [
          `${rateBy('status', 'aion_tasks_total')} * 3600`,
          '{{status}}',
        ]),
      )
      .withPanel(
        panel('LLM spend per hour', 'currencyUSD', [
          'sum(rate(aion_llm_cost_usd_total[$__rate_interval])) * 3600',
          'spend',
        ]),
      ),
  );
}

/** Refused credentials, rate limits, access denials and residency refusals. */
export function securityPosture(): PlatformDashboard {
  return built(
    dashboard(
      'aion-security',
      'Aion / Security posture',
      'Credentials refused at the edge, rate limits, access denied by the REST and gRPC APIs, and data kept in its jurisdiction.',
      'now-24h',
    )
      .withPanel(stat('Refused credentials (24 h)', 'short', day('aion_auth_failures_total')))
      .withPanel(stat('Rate-limited requests (24 h)', 'short', day('aion_rate_limited_total')))
      .withPanel(
        stat(
          'REST 401 and 403 (24 h)',
          'short',
          day('aion_http_requests_total{status=~"401|403"}'),
        ),
      )
      .withPanel(
        stat(
          'Residency denials (24 h)',
          'short',
          day('aion_residency_decisions_total{outcome="denied"}'),
        ),
      )
      .withRow(new RowBuilder('Edge'))
      .withPanel(
        panel('Refused credentials by reason', 'ops', [
          rateBy('reason', 'aion_auth_failures_total'),
          '{{reason}}',
        ]),
      )
      .withPanel(
        panel('Rate-limited requests by scope', 'ops', [
          rateBy('scope', 'aion_rate_limited_total'),
          '{{scope}}',
        ]),
      )
      .withRow(new RowBuilder('Access'))
      .withPanel(
        panel('REST 401 and 403 by route', 'ops', [
          rateBy('service, route, status', 'aion_http_requests_total{status=~"401|403"}'),
          '{{service}} {{route}} {{status}}',
        ]),
      )
      .withPanel(
        panel('gRPC PERMISSION_DENIED and UNAUTHENTICATED by method', 'ops', [
          rateBy('service, method, code', 'aion_grpc_server_handled_total{code=~"7|16"}'),
          '{{service}} {{method}} {{code}}',
        ]),
      ),
  );
}

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

/** Engine calls that say something about the engine (a canceled task's call does not). */
const judged = 'aion_engine_requests_total{outcome!="canceled"}';

/** Engines and models: calls, errors, latency, breakers, tokens and spend. */
export function llmOperations(): PlatformDashboard {
  return built(
    dashboard(
      'aion-llm-operations',
      'Aion / LLM operations',
      'Engine calls, errors, latency and circuit breakers; tokens and spend by model.',
    )
      .withRow(new RowBuilder('Engines'))
      .withPanel(
        panel('Engine calls by outcome', 'ops', [
          rateBy('engine, outcome', 'aion_engine_requests_total'),
          '{{engine}} {{outcome}}',
        ]),
      )
      .withPanel(
        panel('Engine error ratio', 'percentunit', [
          `${rateBy('engine', 'aion_engine_requests_total{outcome="failed"}')} / ${rateBy('engine', judged)}`,
          '{{engine}}',
        ]),
      )
      .withPanel(
        panel('Engine p95 latency', 's', [
          quantileBy(0.95, 'engine', 'aion_engine_request_duration_seconds_bucket'),
          '{{engine}}',
        ]),
      )
      .withPanel(
        panel('Circuit breakers (0 closed, 1 half open, 2 open)', 'short', [
          'max by (engine) (aion_breaker_state)',
          '{{engine}}',
        ]).max(2),
      )
      .withRow(new RowBuilder('Models'))
      .withPanel(
        panel('Tokens per second by model', 'short', [
          rateBy('model, direction', 'aion_llm_tokens_total'),
          '{{model}} {{direction}}',
        ]),
      )
      .withPanel(
        panel('Spend per hour by model', 'currencyUSD', [
          `${rateBy('model', 'aion_llm_cost_usd_total')} * 3600`,
          '{{model}}',
        ]),
      ),
  );
}

/** Tasks from acceptance to their end, against the blueprint's latency targets; the event flow. */
export function agentWorkflow(): PlatformDashboard {
  const ok = 'aion_task_duration_seconds_bucket{status="OK"}';
  return built(
    dashboard(
      'aion-agent-workflow',
      'Aion / Agent workflow',
      'Tasks by status, intent and engine, their latency against the 0.5 s / 2 s / 2.3 s targets, and the events behind them.',
    )
      .withRow(new RowBuilder('Tasks'))
      .withPanel(
        panel('Finished tasks by status', 'ops', [
          rateBy('status', 'aion_tasks_total'),
          '{{status}}',
        ]),
      )
      .withPanel(
        panel('Finished tasks by intent and engine', 'ops', [
          rateBy('intent, engine', 'aion_tasks_total'),
          '{{intent}} on {{engine}}',
        ]),
      )
      .withPanel(
        panel('Task success ratio by intent', 'percentunit', [
          `${rateBy('intent', 'aion_tasks_total{status="OK"}')} / ${rateBy('intent', 'aion_tasks_total{status!="CANCELED"}')}`,
          '{{intent}}',
        ]).max(1),
      )
      .withPanel(
        panel(
          'Task latency by intent',
          's',
          [quantileBy(0.5, 'intent', ok), '{{intent}} p50'],
          [quantileBy(0.95, 'intent', ok), '{{intent}} p95'],
        ),
      )
      .withPanel(
        panel(
          'Tasks within the latency targets',
          'percentunit',
          ...(['0.5', '2', '2.3'] as const).map((le): [string, string] => [
            `sum(rate(aion_task_duration_seconds_bucket{status="OK",le="${le}"}[$__rate_interval])) / sum(rate(aion_task_duration_seconds_count{status="OK"}[$__rate_interval]))`,
            `within ${le} s`,
          ]),
        ).max(1),
      )
      .withRow(new RowBuilder('Events'))
      .withPanel(
        panel('Outbox lag', 's', ['max by (service) (aion_outbox_lag_seconds)', '{{service}}']),
      )
      .withPanel(
        panel('Consumed events by outcome', 'ops', [
          rateBy('topic, outcome', 'aion_kafka_consumer_messages_total'),
          '{{topic}} {{outcome}}',
        ]),
      ),
  );
}

/** Where the money goes, by model and per task; per-tenant cost is the usage ledger's. */
export function costAttribution(): PlatformDashboard {
  return built(
    dashboard(
      'aion-cost-attribution',
      'Aion / Cost attribution',
      'Spend by model and per task. Per-tenant and per-project cost comes from the usage ledger (GET /api/v1/usage), not from Prometheus: no series carries a tenant.',
      'now-7d',
    )
      .withPanel(
        stat('Spend in the last 24 h', 'currencyUSD', 'sum(increase(aion_llm_cost_usd_total[1d]))'),
      )
      .withPanel(
        stat('Tokens in the last 24 h', 'short', 'sum(increase(aion_llm_tokens_total[1d]))'),
      )
      .withPanel(
        stat(
          'Average spend per finished task (24 h)',
          'currencyUSD',
          'sum(increase(aion_llm_cost_usd_total[1d])) / sum(increase(aion_tasks_total[1d]))',
        ),
      )
      .withPanel(
        panel('Spend per hour by model', 'currencyUSD', [
          `${rateBy('model', 'aion_llm_cost_usd_total')} * 3600`,
          '{{model}}',
        ]),
      )
      .withPanel(
        panel('Tokens per hour by model', 'short', [
          `${rateBy('model, direction', 'aion_llm_tokens_total')} * 3600`,
          '{{model}} {{direction}}',
        ]),
      )
      .withPanel(
        panel('Spend per 1k tokens by model', 'currencyUSD', [
          `1000 * ${rateBy('model', 'aion_llm_cost_usd_total')} / ${rateBy('model', 'aion_llm_tokens_total')}`,
          '{{model}}',
        ]),
      )
      .withPanel(
        panel('Finished tasks per hour by intent and engine', 'short', [
          `${rateBy('intent, engine', 'aion_tasks_total')} * 3600`,
          '{{intent}} on {{engine}}',
        ]),
      ),
  );
}

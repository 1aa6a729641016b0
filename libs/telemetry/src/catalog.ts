import { LATENCY_BUCKETS } from './metrics';

/**
 * The request metrics every service emits (ServiceMetrics), as SLOs and dashboards may name them.
 * Every series also carries `service` (the registry's default label). catalog.spec.ts checks this
 * list against a live registry, so it cannot drift from what is exported.
 */
export interface EmittedMetric {
  kind: 'counter' | 'histogram';
  /** Labels besides `service` (and a histogram's `le`). */
  labels: readonly string[];
  /**
   * Counters: how an event's outcome reads. `faultMatcher` selects server faults (an availability
   * SLI's bad events); `successMatcher` selects full successes (an error-rate SLI's good events).
   */
  outcome?: { label: string; faultMatcher: string; successMatcher: string };
  /** Histograms: the `le` bounds in seconds. */
  buckets?: readonly number[];
}

export const EMITTED_METRICS = {
  aion_http_requests_total: {
    kind: 'counter',
    labels: ['method', 'route', 'status'],
    outcome: { label: 'status', faultMatcher: '=~"5.."', successMatcher: '=~"[23].."' },
  },
  // Server faults: UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS. RESOURCE_EXHAUSTED
  // is left out: it is mostly a tenant's quota, the caller's doing.
  aion_grpc_server_handled_total: {
    kind: 'counter',
    labels: ['method', 'code'],
    outcome: { label: 'code', faultMatcher: '=~"2|4|13|14|15"', successMatcher: '="0"' },
  },
  aion_kafka_consumer_messages_total: {
    kind: 'counter',
    labels: ['topic', 'outcome'],
    outcome: {
      label: 'outcome',
      faultMatcher: '="dead_lettered"',
      successMatcher: '=~"ok|duplicate"',
    },
  },
  aion_http_request_duration_seconds: {
    kind: 'histogram',
    labels: ['method', 'route', 'status'],
    buckets: LATENCY_BUCKETS,
  },
  aion_grpc_server_handling_seconds: {
    kind: 'histogram',
    labels: ['method', 'code'],
    buckets: LATENCY_BUCKETS,
  },
  aion_kafka_consumer_processing_seconds: {
    kind: 'histogram',
    labels: ['topic', 'outcome'],
    buckets: LATENCY_BUCKETS,
  },
} as const satisfies Record<string, EmittedMetric>;

export type EmittedMetricName = keyof typeof EMITTED_METRICS;

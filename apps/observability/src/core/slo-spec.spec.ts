import { AionError } from '@aion/errors';
import type { SloInput } from './model';
import { resolveSlo } from './slo-spec';

const input = (over: Partial<SloInput> = {}): SloInput => ({
  name: 'gateway-availability',
  service: 'gateway',
  sli: 'availability',
  metric: '',
  matchers: {},
  latencyThresholdMs: 0,
  objective: 0.995,
  windowDays: 30,
  description: '',
  ...over,
});

const problemsOf = (over: Partial<SloInput>) => {
  try {
    resolveSlo(input(over));
  } catch (err) {
    expect(err).toBeInstanceOf(AionError);
    expect((err as AionError).code).toBe('validation.invalid_argument');
    return ((err as AionError).details ?? []).map((d) => (d as { field: string }).field);
  }
  throw new Error('expected a validation error');
};

describe('resolveSlo', () => {
  it('gives the one-call gateway availability SLO selectors over its request counter', () => {
    const slo = resolveSlo(input());
    expect(slo.metric).toBe('aion_http_requests_total');
    expect(slo.goodSelector).toBe('aion_http_requests_total{service="gateway",status!~"5.."}');
    expect(slo.totalSelector).toBe('aion_http_requests_total{service="gateway"}');
  });

  it('measures other services by the gRPC calls they serve, faults by server codes', () => {
    const slo = resolveSlo(input({ service: 'orchestrator' }));
    expect(slo.goodSelector).toBe(
      'aion_grpc_server_handled_total{service="orchestrator",code!~"2|4|13|14|15"}',
    );
    const errors = resolveSlo(input({ service: 'orchestrator', sli: 'error_rate' }));
    expect(errors.goodSelector).toBe(
      'aion_grpc_server_handled_total{service="orchestrator",code="0"}',
    );
  });

  it('negates an equality fault matcher as != (Kafka consumers: dead letters are faults)', () => {
    const slo = resolveSlo(
      input({ service: 'data-pipeline', metric: 'aion_kafka_consumer_messages_total' }),
    );
    expect(slo.goodSelector).toBe(
      'aion_kafka_consumer_messages_total{service="data-pipeline",outcome!="dead_lettered"}',
    );
  });

  it('refuses control characters in label values (a rule file cannot carry them)', () => {
    expect(problemsOf({ matchers: { route: 'a\u0080b' } })).toEqual(['sli.matchers.route']);
    expect(problemsOf({ matchers: { route: 'a\nb' } })).toEqual(['sli.matchers.route']);
  });

  it('counts a latency SLI by the bucket at its threshold, with matchers sorted and quoted', () => {
    const slo = resolveSlo(
      input({
        sli: 'latency',
        latencyThresholdMs: 500,
        matchers: { route: '/v1/tasks', method: 'POST' },
      }),
    );
    expect(slo.goodSelector).toBe(
      'aion_http_request_duration_seconds_bucket{service="gateway",method="POST",route="/v1/tasks",le="0.5"}',
    );
    expect(slo.totalSelector).toBe(
      'aion_http_request_duration_seconds_count{service="gateway",method="POST",route="/v1/tasks"}',
    );
  });

  it('escapes label values, so a matcher cannot break out of its string', () => {
    const slo = resolveSlo(input({ matchers: { route: 'a"} or vector(1) #\\' } }));
    expect(slo.totalSelector).toBe(
      'aion_http_requests_total{service="gateway",route="a\\"} or vector(1) #\\\\"}',
    );
  });

  it('lists every problem at once', () => {
    expect(
      problemsOf({
        name: '',
        service: 'billing',
        objective: 1,
        windowDays: 3,
        metric: 'http_requests_total',
        description: 'x'.repeat(1001),
      }).sort(),
    ).toEqual(['description', 'name', 'objective', 'service', 'sli.metric', 'window_days']);
  });

  it.each([0, 1, -0.5, 1.5, Number.NaN])('refuses the objective %p', (objective) => {
    expect(problemsOf({ objective })).toEqual(['objective']);
  });

  it.each([6, 91, 7.5])('refuses a window of %p days', (windowDays) => {
    expect(problemsOf({ windowDays })).toEqual(['window_days']);
  });

  it('accepts the bounds of the window', () => {
    expect(resolveSlo(input({ windowDays: 7 })).windowDays).toBe(7);
    expect(resolveSlo(input({ windowDays: 90 })).windowDays).toBe(90);
  });

  it('refuses a metric of the wrong kind, a threshold that is no bucket, and a stray threshold', () => {
    expect(problemsOf({ sli: 'latency', metric: 'aion_http_requests_total' })).toEqual([
      'sli.metric',
      'sli.threshold_ms',
    ]);
    expect(problemsOf({ sli: 'latency', latencyThresholdMs: 300 })).toEqual(['sli.threshold_ms']);
    expect(problemsOf({ latencyThresholdMs: 500 })).toEqual(['sli.threshold_ms']);
  });

  it('refuses matchers on labels the metric lacks or on the label the SLI decides by', () => {
    expect(problemsOf({ matchers: { topic: 'x' } })).toEqual(['sli.matchers.topic']);
    expect(problemsOf({ matchers: { status: '200' } })).toEqual(['sli.matchers.status']);
    expect(
      problemsOf({ matchers: Object.fromEntries([...Array(11)].map((_, i) => [`l${i}`, 'v'])) }),
    ).toContain('sli.matchers');
  });
});

describe('resolveSlo over the orchestrator tasks', () => {
  it('measures task latency at the blueprint targets and task errors by status', () => {
    const latency = resolveSlo(
      input({
        name: 'chat-latency',
        service: 'orchestrator',
        sli: 'latency',
        metric: 'aion_task_duration_seconds',
        matchers: { intent: 'chat', status: 'OK' },
        latencyThresholdMs: 2300,
      }),
    );
    expect(latency.goodSelector).toBe(
      'aion_task_duration_seconds_bucket{service="orchestrator",intent="chat",status="OK",le="2.3"}',
    );
    expect(latency.totalSelector).toBe(
      'aion_task_duration_seconds_count{service="orchestrator",intent="chat",status="OK"}',
    );
    const errors = resolveSlo(
      input({
        name: 'tasks',
        service: 'orchestrator',
        sli: 'availability',
        metric: 'aion_tasks_total',
      }),
    );
    expect(errors.goodSelector).toBe(
      'aion_tasks_total{service="orchestrator",status!~"ERROR|TIMEOUT"}',
    );
  });

  it("refuses a threshold that is not one of the task histogram's bounds, and the status it decides by", () => {
    expect(
      problemsOf({
        service: 'orchestrator',
        sli: 'latency',
        metric: 'aion_task_duration_seconds',
        latencyThresholdMs: 2500,
      }),
    ).toEqual(['sli.threshold_ms']);
    expect(
      problemsOf({
        service: 'orchestrator',
        sli: 'error_rate',
        metric: 'aion_tasks_total',
        matchers: { status: 'OK' },
      }),
    ).toEqual(['sli.matchers.status']);
  });
});

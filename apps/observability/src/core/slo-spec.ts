import { SERVICE_PREFIXES, type ServiceName } from '@aion/config';
import { AionError } from '@aion/errors';
import { SLI_METRICS, type EmittedMetric } from '@aion/telemetry';
import {
  MAX_WINDOW_DAYS,
  MIN_WINDOW_DAYS,
  SLI_KINDS,
  type ResolvedSlo,
  type SliKind,
  type SloInput,
} from './model';

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;
const MAX_MATCHERS = 10;
const SERVICES = Object.keys(SERVICE_PREFIXES) as ServiceName[];
const METRICS: Record<string, EmittedMetric> = SLI_METRICS;

/** The gateway is measured at its REST edge; every other service by the gRPC calls it serves. */
const defaultMetric = (service: ServiceName, sli: SliKind) =>
  service === 'gateway'
    ? sli === 'latency'
      ? 'aion_http_request_duration_seconds'
      : 'aion_http_requests_total'
    : sli === 'latency'
      ? 'aion_grpc_server_handling_seconds'
      : 'aion_grpc_server_handled_total';

/** Thresholds a latency SLI may name: the histogram's integral millisecond bounds. */
export const latencyThresholdsMs = (metric: EmittedMetric) =>
  (metric.buckets ?? []).map((s) => Math.round(s * 1_000_000) / 1000).filter(Number.isInteger);

/** A label value inside a PromQL double-quoted string. */
const quote = (value: string) => JSON.stringify(value);
/** `{a="x",b!~"y"}` from matchers already written as `label<op>"value"`. */
const braces = (parts: string[]) => `{${parts.join(',')}}`;
/** `="x"` -> `!="x"`, `=~"x"` -> `!~"x"`. */
const negate = (matcher: string) =>
  matcher.startsWith('=~') ? `!~${matcher.slice(2)}` : `!=${matcher.slice(1)}`;
/** Control characters: a rule file (YAML) cannot carry all of them, and no label value needs one. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

interface Problem {
  field: string;
  message: string;
}

/**
 * Checks an SLO as a whole and derives its good and total selectors over an emitted metric; one
 * error lists every problem.
 */
export function resolveSlo(input: SloInput): ResolvedSlo {
  const problems: Problem[] = [];
  const problem = (field: string, message: string) => void problems.push({ field, message });

  if (!NAME.test(input.name))
    problem('name', 'required: letters, digits, space and ._- (at most 100)');
  const service = SERVICES.includes(input.service as ServiceName)
    ? (input.service as ServiceName)
    : undefined;
  if (!service) problem('service', `one of ${SERVICES.join(', ')}`);
  const sli = SLI_KINDS.includes(input.sli) ? input.sli : undefined;
  if (!sli) problem('sli.type', `one of ${SLI_KINDS.join(', ')}`);
  if (!(Number.isFinite(input.objective) && input.objective > 0 && input.objective < 1))
    problem('objective', 'a ratio strictly between 0 and 1, e.g. 0.995');
  if (
    !Number.isInteger(input.windowDays) ||
    input.windowDays < MIN_WINDOW_DAYS ||
    input.windowDays > MAX_WINDOW_DAYS
  )
    problem(
      'window_days',
      `whole days from ${MIN_WINDOW_DAYS} to ${MAX_WINDOW_DAYS}: the ticket alert looks back 3 days, which must fit in the window more than twice`,
    );
  if (input.description.length > 1000 || input.description.includes('\u0000'))
    problem('description', 'at most 1000 characters, none of them U+0000');

  const metricName = input.metric || (service && sli ? defaultMetric(service, sli) : '');
  const metric = Object.hasOwn(METRICS, metricName) ? METRICS[metricName] : undefined;
  if (input.metric && !metric)
    problem('sli.metric', `not a metric Aion emits: one of ${Object.keys(METRICS).join(', ')}`);
  if (metric && sli) {
    const wanted = sli === 'latency' ? 'histogram' : 'counter';
    if (metric.kind !== wanted)
      problem('sli.metric', `a ${sli} SLI counts a ${wanted}; ${metricName} is a ${metric.kind}`);
  }
  if (sli === 'latency') {
    const allowed = metric?.kind === 'histogram' ? latencyThresholdsMs(metric) : [];
    if (!allowed.includes(input.latencyThresholdMs))
      problem(
        'sli.threshold_ms',
        allowed.length
          ? `a latency SLI needs a threshold that is a bucket bound of ${metricName}: one of ${allowed.join(', ')} ms`
          : 'a latency SLI needs a threshold over a histogram',
      );
  } else if (input.latencyThresholdMs)
    problem('sli.threshold_ms', 'only latency SLIs have a threshold');

  const entries = Object.entries(input.matchers);
  if (entries.length > MAX_MATCHERS) problem('sli.matchers', `at most ${MAX_MATCHERS}`);
  for (const [label, value] of entries) {
    if (metric && !metric.labels.includes(label))
      problem(
        `sli.matchers.${label}`,
        `${metricName} has no label ${label}: it has ${metric.labels.join(', ')}`,
      );
    else if (sli !== 'latency' && label === metric?.outcome?.label)
      problem(`sli.matchers.${label}`, `the ${sli} SLI decides by ${label} itself`);
    if (typeof value !== 'string' || value.length > 200 || CONTROL.test(value))
      problem(
        `sli.matchers.${label}`,
        'a label value of at most 200 characters, no control characters',
      );
  }

  if (problems.length || !service || !sli || !metric)
    throw AionError.validation(
      `the SLO is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      problems,
    );

  const common = [
    `service=${quote(service)}`,
    ...entries
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([label, value]) => `${label}=${quote(value)}`),
  ];
  let goodSelector: string;
  let totalSelector: string;
  if (sli === 'latency') {
    const le = String(input.latencyThresholdMs / 1000);
    goodSelector = `${metricName}_bucket${braces([...common, `le=${quote(le)}`])}`;
    totalSelector = `${metricName}_count${braces(common)}`;
  } else {
    const outcome = metric.outcome!;
    const good = sli === 'availability' ? negate(outcome.faultMatcher) : outcome.successMatcher;
    goodSelector = `${metricName}${braces([...common, `${outcome.label}${good}`])}`;
    totalSelector = `${metricName}${braces(common)}`;
  }
  return {
    ...input,
    service,
    sli,
    metric: metricName,
    matchers: Object.fromEntries(entries),
    goodSelector,
    totalSelector,
  };
}

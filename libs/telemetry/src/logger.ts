import { trace } from '@opentelemetry/api';
import { currentTenant } from '@aion/tenancy';
import winston from 'winston';

/** Field names whose values never reach a log line, whatever the configuration says. */
export const DEFAULT_MASKED_FIELDS = [
  'password',
  'passwd',
  'secret',
  'token',
  'access_token',
  'refresh_token',
  'authorization',
  'api_key',
  'apikey',
  'cookie',
  'email',
  'phone',
  'ssn',
  'iban',
  'card_number',
];

const MASK = '[REDACTED]';

function maskValue(value: unknown, masked: Set<string>, depth: number): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskValue(v, masked, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message };
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = masked.has(key.toLowerCase()) ? MASK : maskValue(v, masked, depth + 1);
  }
  return out;
}

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Extra field names to mask, on top of DEFAULT_MASKED_FIELDS. */
  piiFields?: readonly string[];
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  stream?: NodeJS.WritableStream;
}

export type Logger = winston.Logger;

/**
 * JSON logger: each line carries service, request id, tenant, trace and span ids from the
 * active context, and configured PII fields are masked at any depth.
 */
export function createLogger(options: LoggerOptions): Logger {
  const masked = new Set(
    [...DEFAULT_MASKED_FIELDS, ...(options.piiFields ?? [])].map((f) => f.toLowerCase()),
  );
  const enrich = winston.format((info) => {
    const tenant = currentTenant();
    if (tenant) {
      info['tenant_id'] ??= tenant.tenantId;
      if (tenant.requestId) info['request_id'] ??= tenant.requestId;
    }
    const span = trace.getActiveSpan()?.spanContext();
    if (span && trace.isSpanContextValid(span)) {
      info['trace_id'] = span.traceId;
      info['span_id'] = span.spanId;
    }
    for (const key of Object.keys(info)) {
      if (masked.has(key.toLowerCase())) info[key] = MASK;
      else info[key] = maskValue(info[key], masked, 0);
    }
    return info;
  });
  return winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: { service: options.service },
    format: winston.format.combine(winston.format.timestamp(), enrich(), winston.format.json()),
    transports: [
      options.stream
        ? new winston.transports.Stream({ stream: options.stream })
        : new winston.transports.Console(),
    ],
  });
}

/**
 * Recognises an error that means "a dependency (PostgreSQL, Redis, Kafka, a peer over TCP) could
 * not be reached or dropped the connection", as opposed to one it answered with (a constraint
 * violation, a syntax error, a WRONGTYPE reply): the first is an outage, answered 503 with
 * Retry-After; the second stays whatever it is. Matched on codes, names and the drivers' fixed
 * messages, without importing pg, ioredis or kafkajs.
 */

/** Seconds a client is told to wait when a dependency is away: long enough not to hammer it. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 2;

/** Socket-level failures Node reports on `code` (also what pg and ioredis pass through). */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs of a connection that is gone or refused: class 08 (connection exception),
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down).
 */
function isPostgresConnectionState(code: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03';
}

/** Messages pg, pg-pool and ioredis raise themselves (no code) when the connection is unusable. */
const DRIVER_MESSAGES: RegExp[] = [
  // pg: the server closed the socket (restart, failover, admin kill), or connect timed out.
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  // ioredis: offline queue disabled and not connected; connection closed under a command.
  /^Stream isn't writeable and enableOfflineQueue options is false$/,
  /^Connection is closed\.?$/,
  /^Reached the max retries per request limit/,
];

/** Error names ioredis and kafkajs give connection-level failures. */
const CONNECTION_ERROR_NAMES = new Set([
  'MaxRetriesPerRequestError',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

function isConnectionLevel(err: object): boolean {
  const { code, name, message } = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || isPostgresConnectionState(code)))
    return true;
  if (typeof name === 'string' && CONNECTION_ERROR_NAMES.has(name)) return true;
  return typeof message === 'string' && DRIVER_MESSAGES.some((m) => m.test(message));
}

/**
 * True when `err`, or an error it wraps (`cause`, as drizzle and kafkajs wrap; the `errors` of an
 * AggregateError, as Node's happy-eyeballs connect raises), is a connection-level failure.
 */
export function isDependencyUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [err];
  // Bounded: a cause chain is a handful deep; a cycle or a pathological tree stops here.
  while (pending.length > 0 && seen.size < 16) {
    const current = pending.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    if (isConnectionLevel(current)) return true;
    const { cause, errors } = current as { cause?: unknown; errors?: unknown };
    if (cause !== undefined) pending.push(cause);
    if (Array.isArray(errors)) pending.push(...(errors as unknown[]));
  }
  return false;
}

import { createServer, type AddressInfo } from 'node:net';
import { DrizzleQueryError } from 'drizzle-orm';
import Redis from 'ioredis';
import * as kafkajs from 'kafkajs';
import { Client, DatabaseError } from 'pg';
import { AionError, retryAfterFor, toAionError } from './aion-error';
import { DEPENDENCY_RETRY_AFTER_SECONDS, isDependencyUnavailable } from './dependency';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const { KafkaJSConnectionError, KafkaJSProtocolError, KafkaJSRequestTimeoutError } = kafkajs;
// Exported by kafkajs at runtime but missing from its type definitions.
const untyped = kafkajs as unknown as Record<string, new (message?: string) => Error>;
const KafkaJSConnectionClosedError = untyped['KafkaJSConnectionClosedError']!;
const KafkaJSNoBrokerAvailableError = untyped['KafkaJSNoBrokerAvailableError']!;

function pgError(code: string, message: string): DatabaseError {
  const err = new DatabaseError(message, message.length, 'error');
  err.code = code;
  return err;
}

describe('isDependencyUnavailable', () => {
  it('recognises a refused PostgreSQL connection, also wrapped in a drizzle query error', async () => {
    const client = new Client({ host: '127.0.0.1', port: await closedPort(), user: 'x' });
    const refused: unknown = await client.connect().then(
      () => undefined,
      (err: unknown) => err,
    );
    // Node's own error (another realm under jest, so no instanceof): ECONNREFUSED on `code`.
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    expect(isDependencyUnavailable(refused)).toBe(true);
    expect(isDependencyUnavailable(new DrizzleQueryError('select 1', [], refused as Error))).toBe(
      true,
    );
  });

  it('recognises ioredis refusing a command while it is not connected', async () => {
    const redis = new Redis(await closedPort(), '127.0.0.1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    try {
      const refused: unknown = await redis.ping().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect((refused as Error).message).toMatch(/Stream isn't writeable/);
      expect(isDependencyUnavailable(refused)).toBe(true);
    } finally {
      redis.disconnect();
    }
  });

  it.each([
    ['08006 connection_failure', pgError('08006', 'connection failure')],
    ['08003 connection_does_not_exist', pgError('08003', 'connection does not exist')],
    ['57P01 admin_shutdown', pgError('57P01', 'terminating connection due to administrator')],
    ['57P02 crash_shutdown', pgError('57P02', 'terminating connection because of crash')],
    ['57P03 cannot_connect_now', pgError('57P03', 'the database system is starting up')],
    ['pg: Connection terminated unexpectedly', new Error('Connection terminated unexpectedly')],
    ['pg-pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['write EPIPE', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })],
    ['read ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['connect ETIMEDOUT', Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' })],
    [
      "ioredis: Stream isn't writeable",
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    ],
    ['ioredis: Connection is closed.', new Error('Connection is closed.')],
    [
      'ioredis: MaxRetriesPerRequestError',
      Object.assign(new Error('Reached the max retries per request limit (which is 2).'), {
        name: 'MaxRetriesPerRequestError',
      }),
    ],
    ['kafkajs connection error', new KafkaJSConnectionError('Connection error: ECONNREFUSED')],
    ['kafkajs connection closed', new KafkaJSConnectionClosedError('Closed connection')],
    ['kafkajs request timeout', new KafkaJSRequestTimeoutError('Request Produce timed out')],
    ['kafkajs no broker', new KafkaJSNoBrokerAvailableError()],
    [
      'AggregateError of refused connects (happy eyeballs)',
      new AggregateError(
        [Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })],
        '',
      ),
    ],
  ])('%s is a lost dependency', (_name, err) => {
    expect(isDependencyUnavailable(err)).toBe(true);
  });

  it.each([
    ['23505 unique_violation', pgError('23505', 'duplicate key value violates unique constraint')],
    ['23503 foreign_key_violation', pgError('23503', 'violates foreign key constraint')],
    ['42601 syntax_error', pgError('42601', 'syntax error at or near "selec"')],
    ['40001 serialization_failure', pgError('40001', 'could not serialize access')],
    ['57014 query_canceled (statement timeout)', pgError('57014', 'canceling statement')],
    ['redis WRONGTYPE reply', new Error('WRONGTYPE Operation against a key')],
    ['kafkajs protocol error', new KafkaJSProtocolError('Topic authorization failed')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a message merely mentioning a connection', new Error('user said Connection is closed. ok')],
    ['not an error at all', 'ECONNREFUSED'],
    ['undefined', undefined],
  ])('%s is not a lost dependency', (_name, err) => {
    expect(isDependencyUnavailable(err)).toBe(false);
  });

  it('stops on a cause cycle', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(isDependencyUnavailable(a)).toBe(false);
  });
});

describe('toAionError on dependency failures', () => {
  it('answers a lost connection as service.unavailable 503 with Retry-After, hiding the text', () => {
    const err = toAionError(
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' }),
    );
    expect(err.code).toBe('service.unavailable');
    expect(err.httpStatus).toBe(503);
    expect(retryAfterFor(err)).toBe(DEPENDENCY_RETRY_AFTER_SECONDS);
    expect(JSON.stringify(err.toEnvelope('r'))).not.toMatch(/10\.0\.0\.7/);
  });

  it('leaves a constraint violation an internal error', () => {
    const err = toAionError(pgError('23505', 'duplicate key value violates unique constraint'));
    expect(err.code).toBe('internal.error');
    expect(retryAfterFor(err)).toBeUndefined();
  });
});

describe('retryAfterFor', () => {
  it('gives every 503 a Retry-After, keeping one the thrower chose, and nothing else one', () => {
    // Absent on the error itself: a 503 without a chosen wait says "down" (breakers count it).
    expect(new AionError('service.unavailable', 'down').retryAfterSeconds).toBeUndefined();
    expect(retryAfterFor(new AionError('service.unavailable', 'down'))).toBe(
      DEPENDENCY_RETRY_AFTER_SECONDS,
    );
    expect(
      retryAfterFor(new AionError('service.unavailable', 'busy', { retryAfterSeconds: 1 })),
    ).toBe(1);
    expect(
      retryAfterFor(new AionError('rate_limit.exceeded', 'slow', { retryAfterSeconds: 7 })),
    ).toBe(7);
    expect(retryAfterFor(new AionError('internal.error', 'x'))).toBeUndefined();
    expect(retryAfterFor(new AionError('service.timeout', 'x'))).toBeUndefined();
  });
});

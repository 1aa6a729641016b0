import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@aion/config';
import { createLogger, ServiceMetrics } from '@aion/telemetry';
import {
  issueSelfSignedCertificate,
  issueTestCertificates,
  startPrivateRedis,
  type PrivateRedis,
  type TestCertificates,
} from '@aion/testing';
import { loadConfigFor, openInfrastructure } from '../../src';

// TLS to Redis with a private CA and a client certificate (REDIS_TLS_*; the chart's redis.caSecret
// and redis.clientCertSecret), against a real redis-server listening only on TLS.

let dir: string;
let certs: TestCertificates;
let redis: PrivateRedis;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'aion-redis-tls-'));
  certs = issueTestCertificates(dir);
  redis = await startPrivateRedis({ tls: certs, requireClientCertificate: true });
});

afterAll(async () => {
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

const configWith = (env: Record<string, string>) =>
  loadConfigFor(
    'gateway',
    {},
    { redis: true },
    {
      AION_MODE: 'distributed',
      AION_INTERNAL_TOKEN_SECRET: 'x'.repeat(32),
      AION_GATEWAY_HTTP_PORT: '0',
      LOG_LEVEL: 'error',
      REDIS_URL: redis.url,
      ...env,
    },
  );

/** The redis readiness check's verdict through openInfrastructure, as the gateway opens it. */
async function redisReady(env: Record<string, string>): Promise<boolean> {
  const infra = await openInfrastructure({
    service: 'gateway',
    config: configWith(env),
    needs: { redis: true },
    logger: createLogger({ service: 'test', level: 'error' }),
    metrics: new ServiceMetrics('gateway', { defaultMetrics: false }),
  });
  try {
    const check = infra.checks.find((c) => c.name === 'redis')!;
    return await check.check().then(
      () => true,
      () => false,
    );
  } finally {
    await infra.close();
  }
}

describe('Redis over TLS with a private CA', () => {
  it('connects with the CA and a client certificate, and is refused without either', async () => {
    const ca = { REDIS_TLS_CA_FILE: certs.ca.cert };
    const client = { REDIS_TLS_CERT_FILE: certs.client.cert, REDIS_TLS_KEY_FILE: certs.client.key };
    expect(await redisReady({ ...ca, ...client })).toBe(true);
    // The system CAs do not know the private CA; the server wants a client certificate.
    expect(await redisReady(client)).toBe(false);
    expect(await redisReady(ca)).toBe(false);
    // A client certificate no trusted CA signed.
    const stranger = issueSelfSignedCertificate(dir, 'stranger');
    expect(
      await redisReady({
        ...ca,
        REDIS_TLS_CERT_FILE: stranger.cert,
        REDIS_TLS_KEY_FILE: stranger.key,
      }),
    ).toBe(false);
  }, 60_000);

  it('refuses half a client certificate, TLS files without rediss://, and a file it cannot read', async () => {
    const problems = (env: Record<string, string>, url = redis.url) => {
      try {
        configWith({ ...env, REDIS_URL: url });
        return [];
      } catch (err) {
        return (err as ConfigError).problems.map((p) => p.variable);
      }
    };
    expect(problems({ REDIS_TLS_CERT_FILE: certs.client.cert })).toEqual(['REDIS_TLS_KEY_FILE']);
    expect(problems({ REDIS_TLS_CA_FILE: certs.ca.cert }, 'redis://127.0.0.1:6379')).toEqual([
      'REDIS_TLS_CA_FILE',
    ]);
    await expect(redisReady({ REDIS_TLS_CA_FILE: path.join(dir, 'missing.pem') })).rejects.toThrow(
      /REDIS_TLS_CA_FILE: cannot read/,
    );
  });
});

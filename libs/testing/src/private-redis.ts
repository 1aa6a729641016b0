import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestCertificates } from './certificates';
import { commandExists, freePort, startDaemon, stopPid, waitForPort } from './infra/processes';

/** A redis-server of one test's own, which it may stop and start again on the same port. */
export interface PrivateRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL): clients see the connection drop. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (nothing is persisted). */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

/**
 * Outage tests stop their dependency; a private server keeps that from disturbing every other
 * test on the shared one.
 */
export async function startPrivateRedis(
  options: {
    /** TLS only (rediss://), with this CA's server certificate. */
    tls?: TestCertificates;
    /** With `tls`: refuse clients without a certificate the CA signed (Redis' default). */
    requireClientCertificate?: boolean;
  } = {},
): Promise<PrivateRedis> {
  const binary = process.env['AION_REDIS_SERVER'] ?? 'redis-server';
  if (!commandExists(binary))
    throw new Error('redis-server not found: run `npm run infra:install` (apt redis-server)');
  const dir = mkdtempSync(path.join(tmpdir(), 'aion-redis-'));
  const port = await freePort();
  let pid: number | undefined;
  const start = async () => {
    if (pid !== undefined) return;
    pid = startDaemon(
      binary,
      [
        ...(options.tls
          ? [
              '--port',
              '0',
              '--tls-port',
              String(port),
              '--tls-cert-file',
              options.tls.server.cert,
              '--tls-key-file',
              options.tls.server.key,
              '--tls-ca-cert-file',
              options.tls.ca.cert,
              '--tls-auth-clients',
              options.requireClientCertificate ? 'yes' : 'no',
            ]
          : ['--port', String(port)]),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      path.join(dir, 'redis.log'),
    );
    await waitForPort(port, 15_000, 'private redis');
  };
  const stop = async () => {
    if (pid === undefined) return;
    await stopPid(pid);
    pid = undefined;
  };
  await start();
  return {
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

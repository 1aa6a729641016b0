import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { commandExists, freePort, startDaemon, stopPid, waitForPort } from './processes';

export interface LocalRedis {
  port: number;
  pid: number;
  url: string;
}

export async function startLocalRedis(stackDir: string): Promise<LocalRedis> {
  const binary = process.env['AION_REDIS_SERVER'] ?? 'redis-server';
  if (!commandExists(binary))
    throw new Error(
      'redis-server not found: run `npm run infra:install` (apt redis-server) or set REDIS_URL',
    );
  const dir = path.join(stackDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const pid = startDaemon(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
    ],
    path.join(dir, 'redis.log'),
  );
  await waitForPort(port, 15_000, 'redis');
  return { port, pid, url: `redis://127.0.0.1:${port}` };
}

export async function stopLocalRedis(redis: Pick<LocalRedis, 'pid'>): Promise<void> {
  await stopPid(redis.pid);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

export interface RunningAlertmanager {
  url: string;
  /** Sends alerts as Prometheus's notifier does (POST /api/v2/alerts). */
  post(alerts: Record<string, unknown>[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Alertmanager (Debian's prometheus-alertmanager, installed by tools/infra/install.sh) on
 * a free loopback port, without clustering, notifying `webhookUrl` with a bearer token. Every
 * alert is its own group and is sent after a second, so tests wait seconds, not minutes.
 */
export async function startAlertmanager(options: {
  port: number;
  webhookUrl: string;
  token: string;
}): Promise<RunningAlertmanager> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-alertmanager-'));
  const config = path.join(dir, 'alertmanager.yml');
  writeFileSync(
    config,
    stringify({
      route: {
        receiver: 'aion',
        group_by: ['...'],
        group_wait: '1s',
        group_interval: '1s',
        repeat_interval: '1h',
      },
      receivers: [
        {
          name: 'aion',
          webhook_configs: [
            {
              url: options.webhookUrl,
              send_resolved: true,
              http_config: { authorization: { type: 'Bearer', credentials: options.token } },
            },
          ],
        },
      ],
    }),
  );
  const url = `http://127.0.0.1:${options.port}`;
  let output = '';
  const child: ChildProcess = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${config}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-5000)));
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-5000)));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) =>
      reject(
        new Error(
          `prometheus-alertmanager did not start (tools/infra/install.sh installs it): ${err.message}`,
        ),
      ),
    );
  });
  await spawned;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (i > 100 || child.exitCode !== null) {
      await stop();
      throw new Error(`Alertmanager did not become ready: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async post(alerts) {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!res.ok)
        throw new Error(`Alertmanager refused the alerts: ${res.status} ${await res.text()}`);
    },
    stop,
  };
}

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

export interface RunningPrometheus {
  url: string;
  stop(): Promise<void>;
}

/**
 * A real Prometheus (Debian's prometheus, installed by tools/infra/install.sh) on a loopback
 * port: scrapes `targets` every second, evaluates the rule files of `rulesDir` every second,
 * sends alerts to the Alertmanager at `alertmanager`, reloads on POST /-/reload.
 */
export async function startPrometheus(options: {
  port: number;
  rulesDir: string;
  targets: string[];
  alertmanager: string;
}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [path.join(options.rulesDir, '*.yml')],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [options.alertmanager] }] }] },
      scrape_configs: [{ job_name: 'aion', static_configs: [{ targets: options.targets }] }],
    }),
  );
  let output = '';
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      '--web.enable-lifecycle',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-5000)));
  child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-5000)));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) =>
      reject(
        new Error(`prometheus did not start (tools/infra/install.sh installs it): ${err.message}`),
      ),
    );
  });
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (
      await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 150 || child.exitCode !== null) {
      await stop();
      throw new Error(`Prometheus did not become ready: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop };
}

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './infra/stack';
import { testKafkaTopicEnv } from './kafka';

export interface ServiceProcess {
  httpPort: number;
  grpcPort: number;
  /** Where /readyz and /metrics are (the gateway's ops port; the HTTP port elsewhere). */
  opsPort: number;
  /** Every log line the service wrote so far (parsed JSON where possible). */
  logs: Record<string, unknown>[];
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `apps/<app>/src/main.ts` (or its bundle) as its own process, as a deployment would, and resolves once it
 * logged "service started" (with the ports it bound, so tests can pass port 0).
 */
export function startServiceProcess(
  app: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
  options: { bundled?: boolean; nodeArgs?: string[] } = {},
): Promise<ServiceProcess> {
  // `bundled`: run the esbuild bundle (dist/apps/<app>/main.js) as production does, e.g. for
  // benchmarks; build it first with tools/build/bundle.mjs.
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      ...(options.bundled
        ? ['--enable-source-maps', path.join(repoRoot, 'dist', 'apps', app, 'main.js')]
        : ['--import', 'tsx', path.join(repoRoot, 'apps', app, 'src', 'main.ts')]),
    ],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        NODE_OPTIONS: '',
        // A test that starts a service against the test Kafka gets topics its one broker can hold.
        ...testKafkaTopicEnv(),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${app} did not start within ${timeoutMs} ms; logs: ${JSON.stringify(logs.slice(-5))}`,
        ),
      );
    }, timeoutMs);
    const onLine = (line: string) => {
      if (!line.trim()) return;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = { message: line };
      }
      logs.push(entry);
      if (entry['message'] === 'service started') {
        clearTimeout(timer);
        resolve({
          httpPort: Number(entry['http_port']),
          grpcPort: Number(entry['grpc_port']),
          opsPort: Number(entry['ops_port'] ?? entry['http_port']),
          logs,
          child,
          exited,
          kill: (signal = 'SIGTERM') => child.kill(signal),
        });
      }
    };
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      lines.forEach(onLine);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${app} exited with ${code} before starting; logs: ${JSON.stringify(logs.slice(-5))}`,
        ),
      );
    });
  });
}

/**
 * What one hop costs on this machine: a Node.js HTTP client sends small JSON requests over a
 * keep-alive connection to a Node.js HTTP server in another process that answers at once, at
 * fixed rates. Reports the CPU the server and the client spend per exchange (from /proc) and the
 * latency. Every process boundary a request crosses in Aion (gateway, orchestrator, module-host,
 * PostgreSQL, Redis, Kafka) costs at least this, so it is the floor under the end-to-end numbers.
 *   node tools/bench/run.mjs hop [rates] [seconds]
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { cpuSnapshot } from './cpu';

const rates = (process.argv[2] ?? '50,100,200,400').split(',').map(Number);
const seconds = Number(process.argv[3] ?? '10');

const SERVER = `
  const http = require('node:http');
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

async function startServer() {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, port };
}

async function runRate(port: number, serverPid: number, rate: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  const exchange = () =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const req = http.request(
        {
          port,
          host: '127.0.0.1',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - started);
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end('{"n":1}');
    });
  // Warm-up: JIT and the connection pool, as a service would be after its first seconds.
  for (let i = 0; i < 500; i++) await exchange();
  latencies.length = 0;
  const groups = { server: [serverPid], client: [process.pid] };
  const before = cpuSnapshot(groups);
  const total = rate * seconds;
  const began = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = began + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(exchange());
  }
  await Promise.all(pending);
  const after = cpuSnapshot(groups);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(latencies[Math.ceil(p * latencies.length) - 1]! * 100) / 100;
  const perExchange = (name: string) =>
    Math.round(((after[name]! - before[name]!) / total) * 1000) / 1000;
  return {
    rate,
    achieved: Math.round((total / ((performance.now() - began) / 1000)) * 10) / 10,
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    cpu_ms_per_exchange: { server: perExchange('server'), client: perExchange('client') },
  };
}

async function main() {
  const { child, port } = await startServer();
  try {
    const runs = [];
    for (const rate of rates) runs.push(await runRate(port, child.pid!, rate));
    process.stdout.write(`${JSON.stringify({ benchmark: 'hop', seconds, runs })}\n`);
  } finally {
    child.kill();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

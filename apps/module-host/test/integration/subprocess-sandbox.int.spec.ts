import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { hostLimitPlan } from '../../src/adapters/sandbox/cgroups';
import {
  runSubprocess,
  sandboxCapabilities,
  type SubprocessRun,
} from '../../src/adapters/sandbox/subprocess';

// The subprocess sandbox's escape suite: each probe is a shell script run as a module under
// bubblewrap (Debian's, installed by tools/infra/install.sh); each escape fails, and the host
// (this process) keeps serving: a well-behaved module answers after every probe.

// Memory and process limits: a cgroup per run where this host allows one (here, as root: v2 if
// delegated, else v1 on a hybrid host); those cases skip, saying why, only where it does not.
const plan = hostLimitPlan();
const withCgroup = plan.mechanism === 'rlimit' ? test.skip : test;
const cgroupNote =
  plan.mechanism === 'rlimit' ? ` (skipped: ${plan.reason})` : ` (${plan.mechanism})`;
const cgroupBases =
  plan.mechanism === 'cgroup2'
    ? [plan.base]
    : plan.mechanism === 'cgroup1'
      ? [plan.bases.memory, plan.bases.pids]
      : [];
/** Names this suite's runs (their cgroups), apart from another copy of it running at once. */
const runId = `r${process.pid}`;
/** Cgroups of this suite's runs still on the host (each run removes its own). */
const leftovers = () =>
  cgroupBases.flatMap((b) =>
    readdirSync(b).filter((n) => n.startsWith(`aion-escape-suite-${runId}-`)),
  );

const pkg = mkdtempSync(path.join(os.tmpdir(), 'aion-subprocess-'));
chmodSync(pkg, 0o755);
const MiB = 1024 * 1024;

function script(name: string, body: string): string {
  writeFileSync(path.join(pkg, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return `/pkg/${name}`;
}

function run(command: string[], overrides: Partial<SubprocessRun> = {}) {
  return runSubprocess({
    packageDir: pkg,
    command,
    stdin: Buffer.from('{"text":"hello"}'),
    timeoutMs: 10_000,
    memoryBytes: 256 * MiB,
    maxProcesses: 64,
    cpuSeconds: 10,
    owner: { tenantId: 'escape-suite', runId },
    ...overrides,
  });
}

const text = (r: Awaited<ReturnType<typeof run>>) =>
  r.ok ? Buffer.from(r.stdout).toString() + r.stderr : r.message;

async function stillServing(): Promise<void> {
  const r = await run(['/pkg/echo.sh']);
  expect(r.ok && r.exitCode).toBe(0);
  expect(JSON.parse(Buffer.from(r.ok ? r.stdout : new Uint8Array()).toString())).toEqual({
    echoed: { text: 'hello' },
  });
}

let server: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  script('echo.sh', 'printf \'{"echoed":%s}\' "$(cat)"');
  server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(pkg, { recursive: true, force: true });
});

test('the host reports what it can enforce', () => {
  const caps = sandboxCapabilities();
  expect(caps.bubblewrap).toBe(true);
  expect(caps.limits).toBe(plan.mechanism);
  expect(caps.limitsReason).toBe(plan.reason);
});

test('a module reads JSON on stdin and answers JSON on stdout', async () => {
  await stillServing();
});

test('namespaces: own user, pid, uts; no new privileges; seccomp on', async () => {
  const r = await run([
    script(
      'ids.sh',
      'id -u; hostname; echo pids=$(ls /proc | grep -c "^[0-9]"); grep -E "NoNewPrivs|Seccomp:" /proc/self/status',
    ),
  ]);
  const out = text(r);
  expect(out).toMatch(/^65534$/m);
  expect(out).toMatch(/^module$/m);
  expect(Number(/pids=(\d+)/.exec(out)?.[1])).toBeLessThan(8);
  expect(out).toMatch(/NoNewPrivs:\s+1/);
  if (sandboxCapabilities().seccomp) expect(out).toMatch(/Seccomp:\s+2/);
});

test('escape: reading host files fails', async () => {
  const r = await run([
    script(
      'read.sh',
      `cat /etc/passwd && echo LEAK1; cat ${path.resolve(__dirname, '../../package.json')} 2>/dev/null && echo LEAK2; ls /root /home /work 2>/dev/null && echo LEAK3; echo done`,
    ),
  ]);
  expect(text(r)).toMatch(/done/);
  expect(text(r)).not.toMatch(/LEAK/);
});

test('escape: writing outside /tmp fails; /tmp is private', async () => {
  const r = await run([
    script(
      'write.sh',
      'echo x > /usr/x 2>/dev/null && echo LEAK1; echo x > /pkg/x 2>/dev/null && echo LEAK2; echo ok > /tmp/t && cat /tmp/t',
    ),
  ]);
  expect(text(r)).toMatch(/^ok$/m);
  expect(text(r)).not.toMatch(/LEAK/);
});

test('escape: the network (the host on loopback) is unreachable', async () => {
  const r = await run([
    script(
      'net.sh',
      `bash -c 'echo hi > /dev/tcp/127.0.0.1/${port}' 2>/dev/null && echo LEAK; echo done`,
    ),
  ]);
  expect(text(r)).toMatch(/done/);
  expect(text(r)).not.toMatch(/LEAK/);
  expect(connections).toBe(0);
});

test('escape: new namespaces and mounts are refused (seccomp, no privileges)', async () => {
  const r = await run([
    script(
      'ns.sh',
      'unshare -U true 2>/dev/null && echo LEAK1; mount -t tmpfs x /tmp 2>/dev/null && echo LEAK2; echo done',
    ),
  ]);
  expect(text(r)).toMatch(/done/);
  expect(text(r)).not.toMatch(/LEAK/);
});

test('escape: signalling the host fails (it is not in the sandbox PID namespace)', async () => {
  const r = await run([
    script('kill.sh', `kill -9 ${process.pid} 2>/dev/null && echo LEAK; kill -9 -1; echo done`),
  ]);
  expect(text(r)).not.toMatch(/LEAK/);
  await stillServing();
});

withCgroup(
  `escape: a fork bomb is stopped by the run's cgroup pids.max${cgroupNote}`,
  async () => {
    const started = Date.now();
    const r = await run([script('bomb.sh', 'b() { b | b & }; b; sleep 1; echo survived')], {
      maxProcesses: 32,
      timeoutMs: 3000,
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    // The cgroup, not an rlimit (none was set) nor the host, refused the forks.
    expect(r.limits.mechanism).toBe(plan.mechanism);
    expect(r.limits.pidsLimitHits).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/Cannot fork|Resource temporarily unavailable/);
    expect(leftovers()).toEqual([]);
    await stillServing();
  },
  30_000,
);

withCgroup(
  `a run whose cgroup cannot be made is refused, not run unlimited${cgroupNote}`,
  async () => {
    // The kernel refuses a limit that is not a number: the cgroup cannot be set up as asked.
    const refused = run([script('never.sh', 'echo RAN')], { memoryBytes: Number.NaN });
    await expect(refused).rejects.toMatchObject({ code: 'service.unavailable' });
    await expect(refused).rejects.toThrow(/could not create the run's cgroup[12] cgroup/);
    expect(leftovers()).toEqual([]);
    await stillServing();
  },
  30_000,
);

test('escape: a fork bomb is bounded by the process rlimit where no cgroup is used', async () => {
  const started = Date.now();
  const r = await run([script('bomb.sh', 'b() { b | b & }; b; sleep 1; echo survived')], {
    maxProcesses: 32,
    timeoutMs: 3000,
    limits: 'rlimit',
  });
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(r.limits).toEqual({ mechanism: 'rlimit' });
  // The process limit, not the host, stopped it: forks failed inside the sandbox.
  expect(r.stderr).toMatch(/Cannot fork|Resource temporarily unavailable/);
  await stillServing();
}, 30_000);

withCgroup(
  `escape: exhausting memory is stopped by the run's cgroup memory limit${cgroupNote}`,
  async () => {
    const r = await run(
      [script('mem.sh', 'perl -e \'$s = "x" x 1048576; $s .= $s while 1\'; echo status=$?')],
      { memoryBytes: 64 * MiB },
    );
    // No address-space rlimit was set: the cgroup's OOM killer stopped perl (SIGKILL, 128 + 9).
    expect(text(r)).toMatch(/status=137/);
    expect(r.limits.mechanism).toBe(plan.mechanism);
    expect(r.limits.oomKills).toBeGreaterThan(0);
    expect(leftovers()).toEqual([]);
    await stillServing();
  },
);

test('escape: exhausting memory fails at the address-space rlimit where no cgroup is used', async () => {
  const r = await run(
    [script('mem.sh', 'perl -e \'$s = "x" x 1048576; $s .= $s while 1\'; echo status=$?')],
    { memoryBytes: 64 * MiB, limits: 'rlimit' },
  );
  // perl ran (not 127: not found) and failed to allocate past the limit.
  expect(text(r)).toMatch(/status=[1-9]/);
  expect(text(r)).not.toMatch(/status=127/);
  expect(r.limits).toEqual({ mechanism: 'rlimit' });
  await stillServing();
});

withCgroup(
  `a module's CPU rate is held to the manifest's cpu by its cgroup${cgroupNote}`,
  async () => {
    // 1.5 s of wall time spent busy (forking date), at a tenth of a core: the shell's and its
    // children's CPU time stays far below what an unthrottled core would spend (about 1.5 s).
    const r = await run(
      [
        script(
          'spin.sh',
          's=$(date +%s%N); while [ $(( $(date +%s%N) - s )) -lt 1500000000 ]; do :; done; times',
        ),
      ],
      { cpuMillis: 100 },
    );
    const seconds = [...text(r).matchAll(/(\d+)m([\d.]+)s/g)].map(
      ([, m, sec]) => Number(m) * 60 + Number(sec),
    );
    expect(seconds).toHaveLength(4);
    expect(seconds.reduce((a, b) => a + b, 0)).toBeLessThan(0.6);
    expect(r.limits.mechanism).toBe(plan.mechanism);
    await stillServing();
  },
  30_000,
);

test('escape: outliving the timeout gets the whole sandbox killed', async () => {
  const started = Date.now();
  const r = await run([script('sleep.sh', 'sleep 60 & sleep 60')], { timeoutMs: 1000 });
  expect(r).toMatchObject({ ok: false, kind: 'timeout' });
  expect(Date.now() - started).toBeLessThan(5000);
  await stillServing();
});

test('output beyond the limit stops the module', async () => {
  const r = await run([script('flood.sh', 'yes xxxxxxxx')], { maxStdoutBytes: 64 * 1024 });
  expect(r).toMatchObject({ ok: false, kind: 'output_limit' });
});

test('only the GPU nodes assigned are visible, with the vendor environment', async () => {
  // No GPU here: /dev/null stands in for an assigned device node, to show it alone is bound.
  const r = await run([script('dev.sh', 'ls /dev; env | sort')], {
    devices: ['/dev/null', '/dev/nvidia9-absent'],
    env: { CUDA_VISIBLE_DEVICES: '0', NVIDIA_VISIBLE_DEVICES: '0' },
  });
  expect(text(r)).toMatch(/CUDA_VISIBLE_DEVICES=0/);
  expect(text(r)).not.toMatch(/nvidia9/);
  expect(text(r)).not.toMatch(/AION_|JEST|NODE_OPTIONS/);
});

test('network granted as host:port reaches exactly that, through the egress proxy', async () => {
  const allowed = createHttpServer((_req, res) => res.end('hello-from-allowed'));
  await new Promise<void>((resolve) => allowed.listen(0, '127.0.0.1', resolve));
  const allowedPort = (allowed.address() as { port: number }).port;
  try {
    const r = await run(
      [
        script(
          'egress.sh',
          `exec bash -c '
tunnel() {
  exec 3<>/dev/tcp/127.0.0.1/3128 || { echo "no proxy"; return; }
  printf "CONNECT %s HTTP/1.1\\r\\n\\r\\n" "$1" >&3
  read -r line <&3; echo "CONNECT $1: \${line%%$(printf "\\r")}"
  case "$line" in *" 200 "*) read -r _ <&3; printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; tail -n 1 <&3; echo;; esac
  exec 3>&-
}
tunnel 127.0.0.1:${allowedPort}
tunnel 127.0.0.1:${port}
(exec 4<>/dev/tcp/127.0.0.1/${allowedPort}) 2>/dev/null && echo DIRECT-LEAK
echo "proxy=$HTTPS_PROXY"'`,
        ),
      ],
      { network: [`127.0.0.1:${allowedPort}`] },
    );
    const out = text(r);
    expect(out).toMatch(new RegExp(`CONNECT 127.0.0.1:${allowedPort}: HTTP/1.1 200`));
    expect(out).toMatch(/hello-from-allowed/);
    expect(out).toMatch(new RegExp(`CONNECT 127.0.0.1:${port}: HTTP/1.1 403`));
    expect(out).not.toMatch(/DIRECT-LEAK/);
    expect(out).toMatch(/proxy=http:\/\/127.0.0.1:3128/);
    expect(connections).toBe(0); // the port not granted never saw a connection
  } finally {
    allowed.closeAllConnections();
    await new Promise((resolve) => allowed.close(resolve));
  }
  await stillServing();
});

import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort } from './infra/processes';

/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver as child processes, no
 * scheduler or kubelet (objects are stored and validated, pods never run). No binary can be
 * downloaded here: tools/infra/kube-apiserver.sh builds kube-apiserver from the Go module proxy
 * (5-10 minutes, once per version) into the tool cache, where it is found; AION_TEST_KUBE_APISERVER
 * names another. `npm test` builds it and sets AION_TEST_KUBE_REQUIRED, so there a missing binary
 * fails the suites that need it instead of skipping them.
 * etcd comes from Debian's etcd-server (AION_TEST_ETCD, default `etcd` on the PATH).
 */
const KUBERNETES = 'v1.36.3';
const cached = path.join(
  process.env['AION_TOOL_CACHE'] || path.join(os.homedir(), '.cache', 'aion'),
  `kubernetes-${KUBERNETES}`,
  'kube-apiserver',
);
export const kubeApiServerBinary =
  process.env['AION_TEST_KUBE_APISERVER'] || (existsSync(cached) ? cached : undefined);

/**
 * `describe` when a kube-apiserver binary is at hand, else `describe.skip`; under `npm test`
 * (AION_TEST_KUBE_REQUIRED=1) a missing binary fails the suite instead.
 */
export function describeWithKubeApiServer(name: string, suite: (binary: string) => void): void {
  const binary = kubeApiServerBinary;
  if (binary) return describe(name, () => suite(binary));
  if (process.env['AION_TEST_KUBE_REQUIRED'] === '1') {
    throw new Error(`no kube-apiserver at ${cached}: run tools/infra/kube-apiserver.sh`);
  }
  describe.skip(name, () => suite(''));
}

function started(binary: string, args: string[], log: string[]): ChildProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    log.push(chunk.toString());
    if (log.length > 200) log.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

const stopped = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/** GET /readyz; the serving certificate is the API server's own self-signed one. */
const isReady = (server: string, token: string) =>
  new Promise<boolean>((resolve) => {
    const req = httpsGet(
      `${server}/readyz`,
      { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.setTimeout(2_000, () => req.destroy());
  });

export interface KubeControlPlane {
  kubeConfig: KubeConfig;
  stop(): Promise<void>;
}

export async function startKubeControlPlane(
  apiServer: string,
  options: {
    /**
     * The address the server names itself by (its serving certificate's IP) besides loopback,
     * where it still listens: a node's pods reach it there through a forward of the test's.
     */
    advertiseAddress?: string;
  } = {},
): Promise<KubeControlPlane> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-kube-'));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(24).toString('hex');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(path.join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  // One user in system:masters: the credentials sovereign-ai would get from its kubeconfig.
  writeFileSync(path.join(dir, 'tokens.csv'), `${token},aion-sovereign-ai,1,"system:masters"\n`);
  const log: string[] = [];
  const etcd = started(
    process.env['AION_TEST_ETCD'] ?? 'etcd',
    [
      '--name=test',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
    ],
    log,
  );
  const apiserver = started(
    apiServer,
    [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      `--advertise-address=${options.advertiseAddress ?? '127.0.0.1'}`,
      '--endpoint-reconciler-type=none',
      `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, 'certs')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.96.0.0/16',
    ],
    log,
  );
  const stop = async () => {
    // The API server first: stopping etcd under it makes it hang for ~25 s.
    await stopped(apiserver);
    await stopped(etcd);
    rmSync(dir, { recursive: true, force: true });
  };
  const server = `https://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + 60_000;
  while (!(await isReady(server, token))) {
    if (Date.now() > deadline || apiserver.exitCode !== null || etcd.exitCode !== null) {
      await stop();
      throw new Error(`the Kubernetes control plane did not start:\n${log.join('').slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'aion', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'aion' }],
    currentContext: 'test',
  });
  return { kubeConfig, stop };
}

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskOrchestrator, TaskStatus } from '@aion/contracts';
import { ConfigError } from '@aion/config';
import { createGrpcClient, type ServiceClient } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import { grpcHealthStatus } from '@aion/testing';
import { issueTestCertificates, type TestCertificates } from '@aion/testing/certificates';
import { defineService, loadConfigFor, type ServiceLifecycle } from '../../src';

const SECRET = 'x'.repeat(40);
const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-internal-tls-'));
let certs: TestCertificates;
const started: ServiceLifecycle[] = [];

type Service = 'orchestrator' | 'sovereign-ai' | 'gateway';
const PREFIX = {
  orchestrator: 'AION_ORCHESTRATOR_',
  'sovereign-ai': 'AION_SOVEREIGN_',
  gateway: 'AION_GATEWAY_',
};

/** A service's embedded-mode config on free loopback ports, with these extra variables. */
function configOf(service: Service, env: Record<string, string>) {
  const p = PREFIX[service];
  return loadConfigFor(
    service,
    {},
    {},
    {
      AION_MODE: 'embedded',
      LOG_LEVEL: 'error',
      AION_INTERNAL_TOKEN_SECRET: SECRET,
      [`${p}HTTP_PORT`]: '0',
      [`${p}GRPC_PORT`]: '0',
      [`${p}HOST`]: '127.0.0.1',
      ...env,
    },
  );
}

const tlsEnv = (identity: 'server' | 'client') => ({
  AION_GRPC_TLS_CERT_FILE: certs[identity].cert,
  AION_GRPC_TLS_KEY_FILE: certs[identity].key,
  AION_GRPC_TLS_CA_FILE: certs.ca.cert,
});

const TASKS_ACCESS = {
  submit: 'tasks:submit',
  stream: 'tasks:read',
  statusById: 'tasks:read',
  cancel: 'tasks:cancel',
  list: 'tasks:read',
  getReceipt: 'tasks:read',
} as const;

async function start(service: ServiceLifecycle) {
  started.push(service);
  return service.start();
}

beforeAll(() => {
  mkdirSync(path.join(dir, 'ca'));
  certs = issueTestCertificates(path.join(dir, 'ca'));
});

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('gRPC between services with AION_GRPC_TLS_*', () => {
  it('calls another service over mutual TLS, and the server refuses plaintext callers', async () => {
    const orchestrator = await start(
      defineService({
        service: 'orchestrator',
        config: configOf('orchestrator', tlsEnv('server')),
        needs: {},
        wire: () => ({
          registerGrpc: (server) =>
            server.add(
              TaskOrchestrator,
              {
                submit: async (req) => ({
                  result: { taskId: req.task?.taskId ?? '', status: TaskStatus.QUEUED },
                }),
                stream: async function* () {},
                statusById: async () => ({}),
                cancel: async () => ({}),
                list: async () => ({ tasks: [] }),
                getReceipt: async () => ({}),
              },
              TASKS_ACCESS,
            ),
        }),
      }),
    );
    let tasks: ServiceClient<typeof TaskOrchestrator.method> | undefined;
    await start(
      defineService({
        service: 'sovereign-ai',
        config: configOf('sovereign-ai', tlsEnv('client')),
        needs: {},
        wire: ({ tokens, grpcCredentials }) => {
          tasks = createGrpcClient(TaskOrchestrator, `localhost:${orchestrator.grpcPort}`, {
            tokens,
            credentials: grpcCredentials,
          });
          return {};
        },
      }),
    );
    const tenant = {
      tenantId: 'acme',
      subject: 's',
      owner: 's',
      roles: ['developer'],
      requestId: 'r',
    };
    const answer = await runWithTenant(tenant, () => tasks!.submit({ task: { taskId: 't-1' } }));
    expect(answer.result?.taskId).toBe('t-1');
    tasks!.close();
    await expect(grpcHealthStatus(`localhost:${orchestrator.grpcPort}`)).rejects.toThrow();
  });

  it("leaves the gateway's public gRPC port to its own TLS settings", async () => {
    const gateway = await start(
      defineService({
        service: 'gateway',
        config: configOf('gateway', tlsEnv('server')),
        needs: {},
      }),
    );
    await expect(grpcHealthStatus(`127.0.0.1:${gateway.grpcPort}`)).resolves.toBe('SERVING');
  });

  it('refuses a certificate without its key, and stops the start on a file it cannot read', async () => {
    expect(() => configOf('orchestrator', { AION_GRPC_TLS_CERT_FILE: certs.server.cert })).toThrow(
      ConfigError,
    );
    expect(() => configOf('orchestrator', { AION_GRPC_TLS_CERT_FILE: certs.server.cert })).toThrow(
      /AION_GRPC_TLS_KEY_FILE: .*go together \(not set\)/,
    );
    const service = defineService({
      service: 'orchestrator',
      config: configOf('orchestrator', {
        ...tlsEnv('server'),
        AION_GRPC_TLS_CA_FILE: path.join(dir, 'missing-ca.pem'),
      }),
      needs: {},
    });
    started.push(service);
    await expect(service.start()).rejects.toThrow(
      /^AION_GRPC_TLS_CA_FILE: cannot read .*missing-ca\.pem/,
    );
  });
});

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { TaskOrchestrator, TaskStatus } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { runWithTenant } from '@aion/tenancy';
import {
  issueTestCertificates,
  type CertificateFiles,
  type TestCertificates,
} from '@aion/testing/certificates';
import { createGrpcClient } from './client';
import { GrpcServer } from './server';
import { mutualTlsCredentials } from './tls';

const tokens = new InternalTokens('k'.repeat(40), 'test');
const tenant = {
  tenantId: 'acme',
  subject: 'svc',
  owner: 'svc',
  roles: ['developer'],
  requestId: 'req-1',
};
const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-mtls-'));
let ours: TestCertificates;
let theirs: TestCertificates;
let server: GrpcServer;
let address: string;

const identity = (files: CertificateFiles, ca: CertificateFiles) =>
  mutualTlsCredentials({ certFile: files.cert, keyFile: files.key, caFile: ca.cert });

/** Submits one task over these client credentials (undefined: plaintext). */
async function submit(channel?: ReturnType<typeof identity>['client']) {
  const client = createGrpcClient(TaskOrchestrator, address, {
    tokens,
    defaultDeadlineMs: 3000,
    ...(channel ? { credentials: channel } : {}),
  });
  try {
    return await runWithTenant(tenant, () => client.submit({ task: { taskId: 't-1' } }));
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  for (const sub of ['ours', 'theirs']) mkdirSync(path.join(dir, sub));
  ours = issueTestCertificates(path.join(dir, 'ours'));
  theirs = issueTestCertificates(path.join(dir, 'theirs'));
  server = new GrpcServer({ tokens });
  server.useCredentials(identity(ours.server, ours.ca).server);
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
    {
      submit: 'tasks:submit',
      stream: 'tasks:read',
      statusById: 'tasks:read',
      cancel: 'tasks:cancel',
      list: 'tasks:read',
      getReceipt: 'tasks:read',
    },
  );
  // By name: the certificate names 127.0.0.1 too, but an IP address is no TLS server name.
  address = `localhost:${await server.start('127.0.0.1', 0)}`;
  server.setServing('SERVING');
});

afterAll(async () => {
  await server.shutdown(1000);
  rmSync(dir, { recursive: true, force: true });
});

describe('mutual TLS between services', () => {
  it('serves a client that presents a certificate of the shared CA', async () => {
    const response = await submit(identity(ours.client, ours.ca).client);
    expect(response.result?.taskId).toBe('t-1');
  });

  it('refuses a client without a certificate', async () => {
    const anonymous = credentials.createSsl(readFileSync(ours.ca.cert));
    await expect(submit(anonymous)).rejects.toMatchObject({ code: 'service.unavailable' });
  });

  it('refuses a client whose certificate another CA signed', async () => {
    // The stranger trusts our CA, so only the server's check of its certificate can refuse it.
    await expect(submit(identity(theirs.client, ours.ca).client)).rejects.toMatchObject({
      code: 'service.unavailable',
    });
  });

  it('refuses a server whose certificate another CA signed', async () => {
    await expect(submit(identity(theirs.client, theirs.ca).client)).rejects.toMatchObject({
      code: 'service.unavailable',
    });
  });

  it('refuses a plaintext client', async () => {
    await expect(submit()).rejects.toMatchObject({ code: 'service.unavailable' });
  });
});

describe('mutualTlsCredentials', () => {
  const names = { certFile: 'CERT_VAR', keyFile: 'KEY_VAR', caFile: 'CA_VAR' };

  it('names the variable of a file it cannot read', () => {
    expect(() =>
      mutualTlsCredentials(
        {
          certFile: ours.client.cert,
          keyFile: path.join(dir, 'missing.key'),
          caFile: ours.ca.cert,
        },
        names,
      ),
    ).toThrow(/^KEY_VAR: cannot read .*missing\.key/);
  });

  it('refuses a key that does not belong to the certificate, and a file that is no PEM', () => {
    expect(() =>
      mutualTlsCredentials(
        { certFile: ours.client.cert, keyFile: ours.server.key, caFile: ours.ca.cert },
        names,
      ),
    ).toThrow(/CERT_VAR, KEY_VAR, CA_VAR: not a usable certificate/);
    const garbage = path.join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate');
    expect(() =>
      mutualTlsCredentials(
        { certFile: garbage, keyFile: ours.client.key, caFile: ours.ca.cert },
        names,
      ),
    ).toThrow(/not a usable certificate/);
  });
});

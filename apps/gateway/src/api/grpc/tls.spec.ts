import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { InternalTokens } from '@aion/auth';
import { GrpcServer } from '@aion/grpc';
import { grpcServerCredentials } from './tls';

const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-grpc-tls-'));
const file = (name: string) => path.join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function issueCertificates(): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, ext] of [
    ['server', ['-extfile', 'server.ext']],
    ['client', []],
  ] as const) {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      `${name}.pem`,
      ...ext,
    );
  }
}

/** Whether a grpc.health.v1 check over these credentials is answered. */
function healthCheck(port: number, creds: ChannelCredentials): Promise<boolean> {
  // The certificate names 127.0.0.1 too; the override only keeps an IP out of the TLS SNI.
  const client = new Client(`127.0.0.1:${port}`, creds, {
    'grpc.ssl_target_name_override': 'localhost',
  });
  return new Promise<boolean>((resolve) =>
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      () => Buffer.alloc(0),
      (b: Buffer) => b,
      {},
      new Metadata(),
      { deadline: Date.now() + 3000 },
      (err) => resolve(!err),
    ),
  ).finally(() => client.close());
}

async function serve(files: Parameters<typeof grpcServerCredentials>[0]) {
  const server = new GrpcServer({ tokens: new InternalTokens('k'.repeat(40), 'test') });
  const tls = grpcServerCredentials(files);
  if (tls) server.useCredentials(tls);
  const port = await server.start('127.0.0.1', 0);
  server.setServing('SERVING');
  return { server, port };
}

beforeAll(() => issueCertificates());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS of the public gRPC API', () => {
  const ca = () => readFileSync(file('ca.pem'));

  it('is plaintext without a certificate', async () => {
    expect(grpcServerCredentials({})).toBeUndefined();
    const { server, port } = await serve({});
    expect(await healthCheck(port, credentials.createInsecure())).toBe(true);
    await server.shutdown(500);
  });

  it('serves TLS with a certificate; plaintext clients are not answered', async () => {
    const { server, port } = await serve({
      certFile: file('server.pem'),
      keyFile: file('server.key'),
    });
    expect(await healthCheck(port, credentials.createSsl(ca()))).toBe(true);
    expect(await healthCheck(port, credentials.createInsecure())).toBe(false);
    await server.shutdown(500);
  });

  it('requires a client certificate signed by the client CA for mutual TLS', async () => {
    const { server, port } = await serve({
      certFile: file('server.pem'),
      keyFile: file('server.key'),
      clientCaFile: file('ca.pem'),
    });
    expect(await healthCheck(port, credentials.createSsl(ca()))).toBe(false);
    expect(
      await healthCheck(
        port,
        credentials.createSsl(
          ca(),
          readFileSync(file('client.key')),
          readFileSync(file('client.pem')),
        ),
      ),
    ).toBe(true);
    // A certificate the client CA did not sign is refused.
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=stranger',
      '-keyout',
      'stranger.key',
      '-out',
      'stranger.pem',
    );
    expect(
      await healthCheck(
        port,
        credentials.createSsl(
          ca(),
          readFileSync(file('stranger.key')),
          readFileSync(file('stranger.pem')),
        ),
      ),
    ).toBe(false);
    await server.shutdown(500);
  });

  it('refuses to start without the files it was given', () => {
    expect(() =>
      grpcServerCredentials({ certFile: file('missing.pem'), keyFile: file('server.key') }),
    ).toThrow(/ENOENT/);
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { InternalTokens } from '@aion/auth';
import { GrpcServer } from '@aion/grpc';
import {
  issueSelfSignedCertificate,
  issueTestCertificates,
  type CertificateFiles,
  type TestCertificates,
} from '@aion/testing/certificates';
import { grpcServerCredentials } from './tls';

const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-grpc-tls-'));

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

let certificates: TestCertificates;
beforeAll(() => {
  certificates = issueTestCertificates(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS of the public gRPC API', () => {
  const ca = () => readFileSync(certificates.ca.cert);
  const withClientCertificate = (files: CertificateFiles) =>
    credentials.createSsl(ca(), readFileSync(files.key), readFileSync(files.cert));
  const serverFiles = () => ({
    certFile: certificates.server.cert,
    keyFile: certificates.server.key,
  });

  it('is plaintext without a certificate', async () => {
    expect(grpcServerCredentials({})).toBeUndefined();
    const { server, port } = await serve({});
    expect(await healthCheck(port, credentials.createInsecure())).toBe(true);
    await server.shutdown(500);
  });

  it('serves TLS with a certificate; plaintext clients are not answered', async () => {
    const { server, port } = await serve(serverFiles());
    expect(await healthCheck(port, credentials.createSsl(ca()))).toBe(true);
    expect(await healthCheck(port, credentials.createInsecure())).toBe(false);
    await server.shutdown(500);
  });

  it('requires a client certificate signed by the client CA for mutual TLS', async () => {
    const { server, port } = await serve({
      ...serverFiles(),
      clientCaFile: certificates.ca.cert,
    });
    expect(await healthCheck(port, credentials.createSsl(ca()))).toBe(false);
    expect(await healthCheck(port, withClientCertificate(certificates.client))).toBe(true);
    // A certificate the client CA did not sign is refused.
    const stranger = issueSelfSignedCertificate(dir, 'stranger');
    expect(await healthCheck(port, withClientCertificate(stranger))).toBe(false);
    await server.shutdown(500);
  });

  it('refuses to start without the files it was given', () => {
    expect(() =>
      grpcServerCredentials({
        certFile: path.join(dir, 'missing.pem'),
        keyFile: certificates.server.key,
      }),
    ).toThrow(/ENOENT/);
  });
});

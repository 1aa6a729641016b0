import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  issueSelfSignedCertificate,
  issueTestCertificates,
  type CertificateFiles,
  type TestCertificates,
} from './certificates';

const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-test-certs-'));
let certificates: TestCertificates;
const x509 = (files: CertificateFiles) => new X509Certificate(readFileSync(files.cert));

beforeAll(() => {
  certificates = issueTestCertificates(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('issueTestCertificates', () => {
  it('signs the server and client certificates with the CA, each with its own key', () => {
    const ca = x509(certificates.ca);
    for (const files of [certificates.server, certificates.client]) {
      const cert = x509(files);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(files.key)))).toBe(true);
    }
    expect(ca.checkIssued(ca)).toBe(true);
  });

  it('names 127.0.0.1 and localhost in the server certificate only', () => {
    expect(x509(certificates.server).checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509(certificates.server).checkHost('localhost')).toBe('localhost');
    expect(x509(certificates.client).checkIP('127.0.0.1')).toBeUndefined();
  });

  it('issues self-signed strangers the CA did not sign', () => {
    const stranger = x509(issueSelfSignedCertificate(dir, 'stranger'));
    expect(stranger.subject).toBe('CN=stranger');
    expect(stranger.checkIssued(x509(certificates.ca))).toBe(false);
    expect(stranger.verify(x509(certificates.ca).publicKey)).toBe(false);
  });
});

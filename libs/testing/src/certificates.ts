import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** A certificate and its private key, both PEM files. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

/** What TLS tests need: a CA, a server certificate for 127.0.0.1 and localhost, a client certificate. */
export interface TestCertificates {
  ca: CertificateFiles;
  server: CertificateFiles;
  client: CertificateFiles;
}

const openssl = (dir: string, ...args: string[]) =>
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

const newKey = ['-newkey', 'rsa:2048', '-nodes'];
const keyAndCert = (name: string) => ['-keyout', `${name}.key`, '-out', `${name}.pem`];
const filesOf = (dir: string, name: string): CertificateFiles => ({
  cert: path.join(dir, `${name}.pem`),
  key: path.join(dir, `${name}.key`),
});

/**
 * A self-signed certificate valid for one day, written to `<name>.pem` and `<name>.key` in `dir`:
 * a CA, or a stranger no CA vouches for.
 */
export function issueSelfSignedCertificate(dir: string, name: string): CertificateFiles {
  openssl(
    dir,
    'req',
    '-x509',
    ...newKey,
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    ...keyAndCert(name),
  );
  return filesOf(dir, name);
}

/**
 * Issues, with openssl, a CA and a server and a client certificate signed by it into `dir`
 * (ca.pem/ca.key, server.pem/server.key, client.pem/client.key), valid for one day.
 */
export function issueTestCertificates(dir: string): TestCertificates {
  const ca = issueSelfSignedCertificate(dir, 'ca');
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const signed = (name: string, extensions: string[]) => {
    openssl(
      dir,
      'req',
      ...newKey,
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      `${name}.pem`,
      ...extensions,
    );
    return filesOf(dir, name);
  };
  return { ca, server: signed('server', ['-extfile', 'server.ext']), client: signed('client', []) };
}

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ChannelCredentials, credentials, ServerCredentials } from '@grpc/grpc-js';

/** PEM files of one service's identity inside the platform and the CA every service trusts. */
export interface MutualTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** What a service serves with and dials with: the same certificate both ways. */
export interface MutualTlsCredentials {
  server: ServerCredentials;
  client: ChannelCredentials;
}

function readPem(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(
      `${variable}: cannot read ${file} (${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

/**
 * Mutual TLS between services: the server presents `certFile` and accepts only callers whose
 * certificate the CA signed; a client presents the same certificate and accepts only servers
 * the CA signed. The files are read and checked (PEM parses, key matches) now, so a bad file
 * stops the start instead of failing the first call. `names` labels errors with the variables.
 */
export function mutualTlsCredentials(
  files: MutualTlsFiles,
  names: Record<keyof MutualTlsFiles, string> = {
    certFile: 'certFile',
    keyFile: 'keyFile',
    caFile: 'caFile',
  },
): MutualTlsCredentials {
  const cert = readPem(files.certFile, names.certFile);
  const key = readPem(files.keyFile, names.keyFile);
  const ca = readPem(files.caFile, names.caFile);
  try {
    createSecureContext({ cert, key, ca });
  } catch (err) {
    throw new Error(
      `${names.certFile}, ${names.keyFile}, ${names.caFile}: not a usable certificate, key and CA (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  return {
    server: ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true),
    client: credentials.createSsl(ca, key, cert),
  };
}

import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';

export interface GrpcTlsFiles {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** With it, clients must present a certificate this CA signed (mTLS). */
  clientCaFile?: string | undefined;
}

/** TLS credentials from PEM files when a certificate is configured; undefined means plaintext. */
export function grpcServerCredentials(files: GrpcTlsFiles): ServerCredentials | undefined {
  if (!files.certFile || !files.keyFile) return undefined;
  const clientCa = files.clientCaFile ? readFileSync(files.clientCaFile) : null;
  return ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: readFileSync(files.certFile), private_key: readFileSync(files.keyFile) }],
    clientCa !== null,
  );
}

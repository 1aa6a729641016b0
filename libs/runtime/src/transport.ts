import { credentials, type ChannelCredentials, type ServerCredentials } from '@grpc/grpc-js';
import { mutualTlsCredentials } from '@aion/grpc';
import type { BaseServiceConfig } from './config';

/** How a service's gRPC server accepts calls and its clients place them. */
export interface InternalGrpcTransport {
  /** Absent: the server stays plaintext. */
  server?: ServerCredentials;
  client: ChannelCredentials;
}

/**
 * Mutual TLS between services when AION_GRPC_TLS_CERT_FILE, _KEY_FILE and _CA_FILE are set (the
 * config refuses one without the others); plaintext otherwise, as in embedded mode and tests.
 * The files are read here, at startup.
 */
export function internalGrpcTransport(config: BaseServiceConfig): InternalGrpcTransport {
  const { grpcTlsCertFile: certFile, grpcTlsKeyFile: keyFile, grpcTlsCaFile: caFile } = config;
  if (!certFile || !keyFile || !caFile) return { client: credentials.createInsecure() };
  return mutualTlsCredentials(
    { certFile, keyFile, caFile },
    {
      certFile: 'AION_GRPC_TLS_CERT_FILE',
      keyFile: 'AION_GRPC_TLS_KEY_FILE',
      caFile: 'AION_GRPC_TLS_CA_FILE',
    },
  );
}

import {
  credentials,
  loadPackageDefinition,
  type ChannelCredentials,
  type GrpcObject,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';

interface HealthClient {
  check(
    request: { service: string },
    callback: (err: Error | null, response: { status: string }) => void,
  ): void;
  close(): void;
}

/**
 * Asks a server's standard grpc.health.v1 service, as a Kubernetes probe would; in plaintext
 * unless given credentials (a server with TLS).
 */
export function grpcHealthStatus(
  address: string,
  service = '',
  channel: ChannelCredentials = credentials.createInsecure(),
): Promise<string> {
  const definition = loadPackageDefinition(loadSync(protoPath, { enums: String })) as GrpcObject;
  const v1 = ((definition['grpc'] as GrpcObject)['health'] as GrpcObject)['v1'] as GrpcObject;
  const Client = v1['Health'] as unknown as new (
    address: string,
    creds: ChannelCredentials,
  ) => HealthClient;
  const client = new Client(address, channel);
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, response) => {
      client.close();
      return err ? reject(err) : resolve(response.status);
    }),
  );
}

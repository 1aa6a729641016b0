import { credentials, loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';

interface HealthClient {
  check(
    request: { service: string },
    callback: (err: Error | null, response: { status: string }) => void,
  ): void;
  close(): void;
}

/** Asks a server's standard grpc.health.v1 service, as a Kubernetes probe would. */
export function grpcHealthStatus(address: string, service = ''): Promise<string> {
  const definition = loadPackageDefinition(loadSync(protoPath, { enums: String })) as GrpcObject;
  const v1 = ((definition['grpc'] as GrpcObject)['health'] as GrpcObject)['v1'] as GrpcObject;
  const Client = v1['Health'] as unknown as new (
    address: string,
    creds: ReturnType<typeof credentials.createInsecure>,
  ) => HealthClient;
  const client = new Client(address, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, response) => {
      client.close();
      return err ? reject(err) : resolve(response.status);
    }),
  );
}

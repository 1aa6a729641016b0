import { ConfigError } from '@aion/config';
import { loadGatewayConfig } from './config';

const embedded = (env: Record<string, string>) =>
  loadGatewayConfig({ AION_MODE: 'embedded', ...env });

describe('gateway configuration', () => {
  it('listens on 8080 unless AION_GATEWAY_PORT (or AION_GATEWAY_HTTP_PORT) says otherwise', () => {
    expect(embedded({}).httpPort).toBe(8080);
    expect(embedded({ AION_GATEWAY_PORT: '9090' }).httpPort).toBe(9090);
    expect(embedded({ AION_GATEWAY_HTTP_PORT: '9091' }).httpPort).toBe(9091);
    expect(embedded({ AION_GATEWAY_PORT: '9092', AION_GATEWAY_HTTP_PORT: '9092' }).httpPort).toBe(
      9092,
    );
  });

  it('refuses two different ports and a port that is not one', () => {
    const both = () => embedded({ AION_GATEWAY_PORT: '9090', AION_GATEWAY_HTTP_PORT: '9091' });
    expect(both).toThrow(ConfigError);
    expect(both).toThrow(/AION_GATEWAY_PORT: is 9090 but AION_GATEWAY_HTTP_PORT is 9091/);
    expect(() => embedded({ AION_GATEWAY_PORT: 'eighty' })).toThrow(/AION_GATEWAY_HTTP_PORT/);
  });

  it('serves gRPC over TLS only with both certificate and key, and mTLS only over TLS', () => {
    expect(embedded({}).publicGrpcTlsCertFile).toBeUndefined();
    const tls = embedded({
      AION_GATEWAY_GRPC_TLS_CERT_FILE: '/tls/cert.pem',
      AION_GATEWAY_GRPC_TLS_KEY_FILE: '/tls/key.pem',
      AION_GATEWAY_GRPC_TLS_CLIENT_CA_FILE: '/tls/ca.pem',
    });
    expect(tls).toMatchObject({
      publicGrpcTlsCertFile: '/tls/cert.pem',
      publicGrpcTlsClientCaFile: '/tls/ca.pem',
    });
    expect(() => embedded({ AION_GATEWAY_GRPC_TLS_CERT_FILE: '/tls/cert.pem' })).toThrow(
      /AION_GATEWAY_GRPC_TLS_KEY_FILE/,
    );
    expect(() => embedded({ AION_GATEWAY_GRPC_TLS_CLIENT_CA_FILE: '/tls/ca.pem' })).toThrow(
      ConfigError,
    );
  });
});

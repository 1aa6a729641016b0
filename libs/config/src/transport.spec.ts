import { ConfigError, redactConfig } from './config';
import { loadServiceConfig, sharedConfigSpec } from './shared';

const distributed = { AION_MODE: 'distributed', AION_INTERNAL_TOKEN_SECRET: 'x'.repeat(32) };
const load = (env: Record<string, string>) => loadServiceConfig({}, {}, { ...distributed, ...env });
const problemsOf = (env: Record<string, string>) => {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('transport settings', () => {
  it('defaults to plaintext gRPC, plain Kafka, three replicas and two in sync', () => {
    const config = load({});
    expect(config).toMatchObject({
      grpcTlsCertFile: undefined,
      kafkaSsl: false,
      kafkaSaslMechanism: undefined,
      kafkaReplicationFactor: 3,
      kafkaMinInsyncReplicas: 2,
    });
  });

  it('takes a complete mutual TLS, Kafka TLS and SASL configuration', () => {
    const config = load({
      AION_GRPC_TLS_CERT_FILE: '/certs/svc.pem',
      AION_GRPC_TLS_KEY_FILE: '/certs/svc.key',
      AION_GRPC_TLS_CA_FILE: '/certs/ca.pem',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: '/certs/kafka-ca.pem',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'aion',
      KAFKA_SASL_PASSWORD: 'hunter2hunter2',
      KAFKA_REPLICATION_FACTOR: '1',
      KAFKA_MIN_INSYNC_REPLICAS: '1',
    });
    expect(config).toMatchObject({
      grpcTlsCaFile: '/certs/ca.pem',
      kafkaSsl: true,
      kafkaSaslMechanism: 'scram-sha-512',
      kafkaReplicationFactor: 1,
    });
    const printed = JSON.stringify(redactConfig(sharedConfigSpec, config));
    expect(printed).not.toContain('hunter2');
  });

  it('refuses a certificate without its key or CA, naming each missing variable', () => {
    expect(problemsOf({ AION_GRPC_TLS_CERT_FILE: '/certs/svc.pem' })).toEqual([
      expect.objectContaining({ variable: 'AION_GRPC_TLS_KEY_FILE' }),
      expect.objectContaining({ variable: 'AION_GRPC_TLS_CA_FILE' }),
    ]);
    expect(problemsOf({ AION_GRPC_TLS_KEY_FILE: '/k', AION_GRPC_TLS_CA_FILE: '/ca' })).toEqual([
      expect.objectContaining({ variable: 'AION_GRPC_TLS_CERT_FILE' }),
    ]);
  });

  it('refuses half a Kafka client certificate, TLS files without KAFKA_SSL and half of SASL', () => {
    expect(
      problemsOf({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/c' }).map((p) => p.variable),
    ).toEqual(['KAFKA_SSL_KEY_FILE']);
    expect(problemsOf({ KAFKA_SSL_CA_FILE: '/ca' })).toEqual([
      { variable: 'KAFKA_SSL_CA_FILE', problem: expect.stringContaining('KAFKA_SSL is false') },
    ]);
    const sasl = problemsOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'secret-pw' });
    expect(sasl.map((p) => p.variable)).toEqual(['KAFKA_SASL_USERNAME']);
    expect(JSON.stringify(sasl)).not.toContain('secret-pw');
    expect(problemsOf({ KAFKA_SASL_MECHANISM: 'gssapi' }).map((p) => p.variable)).toContain(
      'KAFKA_SASL_MECHANISM',
    );
  });

  it('refuses more in-sync replicas than replicas, and a factor that is no positive integer', () => {
    expect(problemsOf({ KAFKA_REPLICATION_FACTOR: '1' })).toEqual([
      {
        variable: 'KAFKA_MIN_INSYNC_REPLICAS',
        problem: expect.stringContaining('more than KAFKA_REPLICATION_FACTOR (1)'),
      },
    ]);
    expect(problemsOf({ KAFKA_REPLICATION_FACTOR: '0' }).map((p) => p.variable)).toEqual([
      'KAFKA_REPLICATION_FACTOR',
    ]);
  });
});

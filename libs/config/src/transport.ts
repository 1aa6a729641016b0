import { z } from 'zod';
import { bool, field, positiveInt, type ConfigError, type ConfigOf } from './config';

const file = () => z.string().min(1).optional();

/**
 * How services reach each other and Kafka: mutual TLS between services when the three
 * AION_GRPC_TLS_* files are set (plaintext otherwise: embedded mode, tests), TLS and SASL to
 * Kafka, and the durability of the topics the services create.
 */
export const transportConfigSpec = {
  grpcTlsCertFile: field(
    'AION_GRPC_TLS_CERT_FILE',
    file(),
    'PEM certificate (chain) this service presents to services it calls and to its callers; with AION_GRPC_TLS_KEY_FILE and AION_GRPC_TLS_CA_FILE, service-to-service gRPC is mutual TLS',
  ),
  grpcTlsKeyFile: field(
    'AION_GRPC_TLS_KEY_FILE',
    file(),
    'PEM private key of AION_GRPC_TLS_CERT_FILE',
  ),
  grpcTlsCaFile: field(
    'AION_GRPC_TLS_CA_FILE',
    file(),
    'PEM CA that signs every service certificate: callers and servers it did not sign are refused',
  ),
  kafkaSsl: field('KAFKA_SSL', bool(false), 'Connect to Kafka over TLS'),
  kafkaSslCaFile: field(
    'KAFKA_SSL_CA_FILE',
    file(),
    "PEM CA the Kafka brokers' certificates are checked against (default: the system CAs)",
  ),
  kafkaSslCertFile: field(
    'KAFKA_SSL_CERT_FILE',
    file(),
    'PEM client certificate presented to Kafka (with KAFKA_SSL_KEY_FILE)',
  ),
  kafkaSslKeyFile: field('KAFKA_SSL_KEY_FILE', file(), 'PEM private key of KAFKA_SSL_CERT_FILE'),
  kafkaSaslMechanism: field(
    'KAFKA_SASL_MECHANISM',
    z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    'SASL authentication to Kafka (with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD); none when unset',
  ),
  kafkaSaslUsername: field('KAFKA_SASL_USERNAME', z.string().min(1).optional(), 'Kafka SASL user'),
  kafkaSaslPassword: field(
    'KAFKA_SASL_PASSWORD',
    z.string().min(1).optional(),
    'Kafka SASL password',
    { sensitive: true },
  ),
  redisTlsCaFile: field(
    'REDIS_TLS_CA_FILE',
    file(),
    "PEM CA the Redis server's certificate is checked against (rediss:// only; default: the system CAs)",
  ),
  redisTlsCertFile: field(
    'REDIS_TLS_CERT_FILE',
    file(),
    'PEM client certificate presented to Redis (with REDIS_TLS_KEY_FILE; for servers with tls-auth-clients)',
  ),
  redisTlsKeyFile: field('REDIS_TLS_KEY_FILE', file(), 'PEM private key of REDIS_TLS_CERT_FILE'),
  kafkaReplicationFactor: field(
    'KAFKA_REPLICATION_FACTOR',
    positiveInt(3),
    'Replicas of each topic the services create (at most the number of brokers; 1 for a single-broker dev stack)',
  ),
  kafkaMinInsyncReplicas: field(
    'KAFKA_MIN_INSYNC_REPLICAS',
    positiveInt(2),
    'min.insync.replicas of each topic the services create: replicas that must have a write before it is acknowledged',
  ),
};

type Problem = ConfigError['problems'][number];

/** Settings that only work together: a half-configured one is refused, naming what is missing. */
export function transportProblems(
  config: ConfigOf<typeof transportConfigSpec>,
  /** REDIS_URL, when the caller's spec has it: TLS files for Redis need rediss://. */
  redisUrl?: string,
): Problem[] {
  const problems: Problem[] = [];
  const together = (set: Record<string, unknown>, why: string) => {
    const names = Object.keys(set);
    if (names.some((n) => set[n] !== undefined))
      for (const n of names)
        if (set[n] === undefined) problems.push({ variable: n, problem: `${why} (not set)` });
  };
  together(
    {
      AION_GRPC_TLS_CERT_FILE: config.grpcTlsCertFile,
      AION_GRPC_TLS_KEY_FILE: config.grpcTlsKeyFile,
      AION_GRPC_TLS_CA_FILE: config.grpcTlsCaFile,
    },
    'AION_GRPC_TLS_CERT_FILE, AION_GRPC_TLS_KEY_FILE and AION_GRPC_TLS_CA_FILE go together',
  );
  together(
    { KAFKA_SSL_CERT_FILE: config.kafkaSslCertFile, KAFKA_SSL_KEY_FILE: config.kafkaSslKeyFile },
    'KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together',
  );
  if (!config.kafkaSsl)
    for (const [variable, value] of Object.entries({
      KAFKA_SSL_CA_FILE: config.kafkaSslCaFile,
      KAFKA_SSL_CERT_FILE: config.kafkaSslCertFile,
    }))
      if (value !== undefined)
        problems.push({ variable, problem: 'is set but KAFKA_SSL is false: set KAFKA_SSL=true' });
  together(
    {
      KAFKA_SASL_MECHANISM: config.kafkaSaslMechanism,
      KAFKA_SASL_USERNAME: config.kafkaSaslUsername,
      KAFKA_SASL_PASSWORD: config.kafkaSaslPassword,
    },
    'KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together',
  );
  together(
    { REDIS_TLS_CERT_FILE: config.redisTlsCertFile, REDIS_TLS_KEY_FILE: config.redisTlsKeyFile },
    'REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together',
  );
  if (redisUrl && !redisUrl.startsWith('rediss:'))
    for (const [variable, value] of Object.entries({
      REDIS_TLS_CA_FILE: config.redisTlsCaFile,
      REDIS_TLS_CERT_FILE: config.redisTlsCertFile,
    }))
      if (value !== undefined)
        problems.push({ variable, problem: 'is set but REDIS_URL is not rediss:// (TLS)' });
  if (config.kafkaMinInsyncReplicas > config.kafkaReplicationFactor)
    problems.push({
      variable: 'KAFKA_MIN_INSYNC_REPLICAS',
      problem: `is ${config.kafkaMinInsyncReplicas}, more than KAFKA_REPLICATION_FACTOR (${config.kafkaReplicationFactor}): no write could ever be acknowledged`,
    });
  return problems;
}

/**
 * Creates the platform's Kafka topics and their .dlq twins where missing (the chart's topic Job
 * runs it from Aion's own image, so an air-gapped install needs no Kafka image; so can operators):
 *   node /app/tools/kafka-topics.js [--partitions N] [topic...]   # every catalog topic when none
 *   tsx libs/runtime/src/kafka-topics-cli.ts …                    # from a checkout
 * Reaches Kafka exactly as the services do: KAFKA_BROKERS, KAFKA_SSL* and KAFKA_SASL_* settings;
 * the topics get KAFKA_REPLICATION_FACTOR replicas and KAFKA_MIN_INSYNC_REPLICAS. Topics that
 * exist keep their settings. Exit status 0 when every topic exists, 1 with the reason otherwise.
 */
import { parseArgs } from 'node:util';
import {
  ConfigError,
  loadConfig,
  sharedConfigSpec,
  transportConfigSpec,
  transportProblems,
} from '@aion/config';
import { allTopics, KafkaBus, kafkaSecurity } from '@aion/events';

const spec = { kafkaBrokers: sharedConfigSpec.kafkaBrokers, ...transportConfigSpec };

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { partitions: { type: 'string', default: '3' }, timeout: { type: 'string' } },
    allowPositionals: true,
  });
  const partitions = Number(values.partitions);
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new Error(`--partitions must be a positive integer, not ${values.partitions}`);
  const timeoutMs = values.timeout === undefined ? 60_000 : Number(values.timeout) * 1000;
  if (!(timeoutMs > 0)) throw new Error(`--timeout must be a number of seconds`);
  const config = loadConfig(spec);
  const problems = transportProblems(config);
  if (config.kafkaBrokers.length === 0)
    problems.push({ variable: 'KAFKA_BROKERS', problem: 'names no broker' });
  if (problems.length) throw new ConfigError(problems);
  const topics = positionals.length ? positionals : allTopics();
  const bus = new KafkaBus({
    brokers: config.kafkaBrokers,
    clientId: 'aion-kafka-topics',
    security: kafkaSecurity({
      ssl: config.kafkaSsl,
      caFile: config.kafkaSslCaFile,
      certFile: config.kafkaSslCertFile,
      keyFile: config.kafkaSslKeyFile,
      saslMechanism: config.kafkaSaslMechanism,
      saslUsername: config.kafkaSaslUsername,
      saslPassword: config.kafkaSaslPassword,
    }),
    partitions,
    replicationFactor: config.kafkaReplicationFactor,
    minInsyncReplicas: config.kafkaMinInsyncReplicas,
  });
  // A broker that never answers must not hold the install's hook until its deadline.
  const bounded = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`Kafka at ${config.kafkaBrokers.join(',')} did not answer in time`)),
      timeoutMs,
    ).unref(),
  );
  try {
    await Promise.race([bus.ensureTopics(topics, timeoutMs), bounded]);
  } finally {
    await Promise.race([bus.close(), new Promise((r) => setTimeout(r, 2_000).unref())]);
  }
  console.log(
    `topics ready (${topics.length}, replication factor ${config.kafkaReplicationFactor}, min.insync.replicas ${config.kafkaMinInsyncReplicas}): ${topics.join(' ')}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`kafka topics: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, run, startDaemon, stopPid, waitForPort } from './processes';

export const KAFKA_VERSION = '3.9.1';

export interface LocalKafka {
  port: number;
  /** The KRaft controller's port: a restart on the same ports passes both back. */
  controllerPort: number;
  pid: number;
  brokers: string;
  /** The SASL_PLAINTEXT (PLAIN) listener, when one was asked for. */
  saslBrokers?: string;
}

/** A SASL/PLAIN listener beside the plaintext one, accepting these users (name -> password). */
export interface LocalKafkaOptions {
  saslPlainUsers?: Record<string, string>;
  /**
   * Listen on these ports instead of free ones: with the same stackDir this restarts a stopped
   * broker where its clients look for it, on its data (the storage is formatted only once).
   */
  ports?: { port: number; controllerPort: number };
  /**
   * The address the client listeners bind and advertise (default 127.0.0.1): a Kubernetes node's
   * pods cannot reach the host's loopback, so the node suite gives its bridge address.
   */
  host?: string;
}

/** JAAS values are double-quoted: a quote or backslash in them would end or escape the value. */
const jaasValue = (value: string) => {
  if (/["\\\n]/.test(value))
    throw new Error('SASL test users cannot contain quotes, backslashes or newlines');
  return `"${value}"`;
};

/** Listener settings: PLAINTEXT (and the controller) always, SASL_PLAINTEXT when asked. */
function listenerProperties(
  port: number,
  controllerPort: number,
  sasl: { port: number; users: Record<string, string> } | undefined,
  host: string,
): string[] {
  const listeners = [`PLAINTEXT://${host}:${port}`];
  const advertised = [`PLAINTEXT://${host}:${port}`];
  const protocols = ['CONTROLLER:PLAINTEXT', 'PLAINTEXT:PLAINTEXT'];
  const extra: string[] = [];
  if (sasl) {
    listeners.push(`SASL_PLAINTEXT://${host}:${sasl.port}`);
    advertised.push(`SASL_PLAINTEXT://${host}:${sasl.port}`);
    protocols.push('SASL_PLAINTEXT:SASL_PLAINTEXT');
    const users = Object.entries(sasl.users).map(([name, password]) => {
      if (!/^\w+$/.test(name)) throw new Error(`SASL test user names are word characters: ${name}`);
      return `user_${name}=${jaasValue(password)}`;
    });
    extra.push(
      'sasl.enabled.mechanisms=PLAIN',
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN',
      `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${users.join(' ')};`,
    );
  }
  return [
    `listeners=${listeners.join(',')},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=${advertised.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${protocols.join(',')}`,
    ...extra,
  ];
}

/** Where `tools/infra/install.sh` (mvn dependency:copy-dependencies) puts the broker's jars. */
export function kafkaLibDir(): string {
  const cache = process.env['AION_INFRA_CACHE'] ?? path.join(os.homedir(), '.cache', 'aion-infra');
  return path.join(cache, `kafka-${KAFKA_VERSION}`, 'libs');
}

/** Resolves the Kafka jars from Maven Central once (tools/infra/kafka/pom.xml). */
export function ensureKafkaJars(repoRoot: string): string {
  const libs = kafkaLibDir();
  if (existsSync(libs) && readdirSync(libs).some((f) => f.startsWith('kafka_2.13-'))) return libs;
  run(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      path.join(repoRoot, 'tools/infra/kafka/pom.xml'),
      'dependency:copy-dependencies',
      `-DoutputDirectory=${libs}`,
      '-DincludeScope=runtime',
    ],
    { stdio: 'inherit' },
  );
  return libs;
}

/** Kafka cluster ids are 16 random bytes, base64url without padding. */
function clusterId(): string {
  return randomBytes(16).toString('base64url');
}

export async function startLocalKafka(
  stackDir: string,
  repoRoot: string,
  options: LocalKafkaOptions = {},
): Promise<LocalKafka> {
  const libs = ensureKafkaJars(repoRoot);
  const dir = path.join(stackDir, 'kafka');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const { port, controllerPort } = options.ports ?? {
    port: await freePort(),
    controllerPort: await freePort(),
  };
  const host = options.host ?? '127.0.0.1';
  const sasl = options.saslPlainUsers && {
    port: await freePort(),
    users: options.saslPlainUsers,
  };
  const properties = path.join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      ...listenerProperties(port, controllerPort, sasl, host),
      `log.dirs=${path.join(dir, 'data')}`,
      'num.partitions=3',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=3',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=true',
      'log.flush.interval.messages=9223372036854775807',
      '',
    ].join('\n'),
  );
  const log4j = path.join(dir, 'log4j.properties');
  writeFileSync(
    log4j,
    [
      'log4j.rootLogger=WARN, file',
      'log4j.appender.file=org.apache.log4j.FileAppender',
      `log4j.appender.file.File=${path.join(dir, 'kafka.log')}`,
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
  const jvm = [
    '-Xms256m',
    '-Xmx768m',
    '-XX:+UseG1GC',
    '-XX:TieredStopAtLevel=1',
    `-Dlog4j.configuration=file:${log4j}`,
    '-cp',
    `${libs}/*`,
  ];
  // A restart finds its storage formatted already: skip a JVM start.
  if (!existsSync(path.join(dir, 'data', 'meta.properties')))
    run('java', [
      ...jvm,
      'kafka.tools.StorageTool',
      'format',
      // One argument with `=`: an id starting with '-' (1 in 64) must not read as an option.
      `--cluster-id=${clusterId()}`,
      '-c',
      properties,
      '--ignore-formatted',
    ]);
  const pid = startDaemon(
    'java',
    [...jvm, 'kafka.Kafka', properties],
    path.join(dir, 'stdout.log'),
  );
  await waitForPort(port, 90_000, 'kafka', host);
  return {
    port,
    controllerPort,
    pid,
    brokers: `${host}:${port}`,
    ...(sasl ? { saslBrokers: `${host}:${sasl.port}` } : {}),
  };
}

export async function stopLocalKafka(kafka: Pick<LocalKafka, 'pid'>): Promise<void> {
  await stopPid(kafka.pid, 15_000);
}

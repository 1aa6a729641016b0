import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';

/** How the services reach Kafka: the KAFKA_SSL* and KAFKA_SASL_* settings. */
export interface KafkaSecuritySettings {
  ssl: boolean;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  saslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512' | undefined;
  saslUsername?: string | undefined;
  saslPassword?: string | undefined;
}

/** kafkajs' `ssl` and `sasl` options. */
export interface KafkaSecurity {
  ssl?: ConnectionOptions | boolean;
  sasl?: SASLOptions;
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
 * Maps the settings to kafkajs options, reading certificate files now so a missing one stops the
 * start. TLS without a CA file trusts the system CAs; a client certificate is presented only when
 * given. SASL without TLS is allowed (SASL_PLAINTEXT) for networks that encrypt below Kafka.
 */
export function kafkaSecurity(settings: KafkaSecuritySettings): KafkaSecurity {
  const out: KafkaSecurity = {};
  if (settings.ssl) {
    const tls: ConnectionOptions = {};
    if (settings.caFile) tls.ca = [readPem(settings.caFile, 'KAFKA_SSL_CA_FILE')];
    if (settings.certFile) tls.cert = readPem(settings.certFile, 'KAFKA_SSL_CERT_FILE');
    if (settings.keyFile) tls.key = readPem(settings.keyFile, 'KAFKA_SSL_KEY_FILE');
    out.ssl = Object.keys(tls).length > 0 ? tls : true;
  }
  if (settings.saslMechanism) {
    if (!settings.saslUsername || !settings.saslPassword)
      throw new Error(
        'KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (not set)',
      );
    out.sasl = {
      mechanism: settings.saslMechanism,
      username: settings.saslUsername,
      password: settings.saslPassword,
    };
  }
  return out;
}

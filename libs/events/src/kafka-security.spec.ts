import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kafkaSecurity } from './kafka-security';

const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-kafka-security-'));
const pem = (name: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, `-----BEGIN ${name}-----\n`);
  return file;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kafkaSecurity', () => {
  it('is plaintext without TLS or SASL', () => {
    expect(kafkaSecurity({ ssl: false })).toEqual({});
  });

  it('trusts the system CAs when TLS has no files, and reads the files it has', () => {
    expect(kafkaSecurity({ ssl: true })).toEqual({ ssl: true });
    const [ca, cert, key] = [pem('CA'), pem('CERT'), pem('KEY')];
    expect(kafkaSecurity({ ssl: true, caFile: ca, certFile: cert, keyFile: key })).toEqual({
      ssl: {
        ca: [Buffer.from('-----BEGIN CA-----\n')],
        cert: Buffer.from('-----BEGIN CERT-----\n'),
        key: Buffer.from('-----BEGIN KEY-----\n'),
      },
    });
  });

  it('maps each SASL mechanism with its user and password', () => {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const)
      expect(
        kafkaSecurity({
          ssl: true,
          saslMechanism: mechanism,
          saslUsername: 'aion',
          saslPassword: 'pw',
        }),
      ).toEqual({ ssl: true, sasl: { mechanism, username: 'aion', password: 'pw' } });
  });

  it('names the variable of a file it cannot read, and refuses SASL without credentials', () => {
    expect(() => kafkaSecurity({ ssl: true, caFile: path.join(dir, 'nope.pem') })).toThrow(
      /^KAFKA_SSL_CA_FILE: cannot read .*nope\.pem/,
    );
    expect(() =>
      kafkaSecurity({ ssl: false, saslMechanism: 'plain', saslUsername: 'aion' }),
    ).toThrow('KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
  });
});

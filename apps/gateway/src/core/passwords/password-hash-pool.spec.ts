import { randomBytes } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { argon2id, argon2Verify } from 'hash-wasm';
import type { AionError } from '@aion/errors';
import { PasswordHashPool } from './password-hash-pool';

const PASSWORD = 'correct horse battery';
const codeOf = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === 'fulfilled' ? 'ok' : (outcome.reason as AionError).code;

describe('PasswordHashPool', () => {
  it('keeps the stored format: hashes made before still verify, new ones verify the old way', async () => {
    const legacy = await argon2id({
      parallelism: 1,
      iterations: 2,
      memorySize: 19_456,
      hashLength: 32,
      password: PASSWORD,
      salt: randomBytes(16),
      outputType: 'encoded',
    });
    const pool = new PasswordHashPool({ workers: 1, maxQueue: 4 });
    try {
      await expect(pool.verify(PASSWORD, legacy)).resolves.toBe(true);
      await expect(pool.verify('not it', legacy)).resolves.toBe(false);
      const fresh = await pool.hash(PASSWORD);
      expect(fresh).toMatch(
        /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
      );
      await expect(argon2Verify({ password: PASSWORD, hash: fresh })).resolves.toBe(true);
      await expect(pool.verify(PASSWORD, 'not a hash')).rejects.toThrow();
    } finally {
      await pool.close();
    }
  });

  it('bounds the queue and refuses the excess as unavailable', async () => {
    const pool = new PasswordHashPool({ workers: 1, maxQueue: 2 });
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, () => pool.hash(PASSWORD)),
      );
      expect(outcomes.map(codeOf)).toEqual([
        'ok',
        'ok',
        'ok',
        'service.unavailable',
        'service.unavailable',
      ]);
    } finally {
      await pool.close();
    }
  });

  it('replaces a worker that dies and fails only its own job', async () => {
    const pool = new PasswordHashPool({ workers: 1, maxQueue: 4 });
    try {
      const first = pool.hash(PASSWORD);
      const queued = pool.hash(PASSWORD);
      // What a crash of the thread (out of memory, a bug in the WebAssembly) looks like.
      const { slots } = pool as unknown as { slots: { worker: Worker }[] };
      await slots[0]!.worker.terminate();
      await expect(first).rejects.toMatchObject({ code: 'internal.error' });
      await expect(queued).resolves.toMatch(/^\$argon2id\$/);
    } finally {
      await pool.close();
    }
  });

  it('refuses work after close', async () => {
    const pool = new PasswordHashPool({ workers: 1, maxQueue: 4 });
    await pool.close();
    await expect(pool.hash(PASSWORD)).rejects.toMatchObject({ code: 'service.unavailable' });
  });
});

import { randomBytes } from 'node:crypto';
import { argon2id, argon2Verify } from 'hash-wasm';

// OWASP's argon2id baseline: 19 MiB, two passes, one lane. Changing these changes only new
// hashes: the encoded form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) carries its own parameters.
const ARGON2ID = { parallelism: 1, iterations: 2, memorySize: 19_456, hashLength: 32 } as const;

/** argon2id in the PHC string format (what gw_users.password_hash holds). */
export function hashArgon2id(password: string): Promise<string> {
  return argon2id({ ...ARGON2ID, password, salt: randomBytes(16), outputType: 'encoded' });
}

/** Checks a password against a PHC-encoded argon2 hash; throws on a malformed hash. */
export function verifyArgon2id(password: string, encoded: string): Promise<boolean> {
  return argon2Verify({ password, hash: encoded });
}

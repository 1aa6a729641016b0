/**
 * Worker thread that runs argon2id (hash-wasm) for the password hash pool, one request at a
 * time, so the ~100-250 ms of each hash never blocks the gateway's event loop.
 */
import { parentPort } from 'node:worker_threads';
import { hashArgon2id, verifyArgon2id } from './argon2';
import type { HashReply, HashRequest } from './password-hash-protocol';

parentPort?.on('message', (request: HashRequest) => {
  const work =
    request.op === 'hash'
      ? hashArgon2id(request.password)
      : verifyArgon2id(request.password, request.encoded);
  work.then(
    (value) => parentPort!.postMessage({ id: request.id, ok: true, value } satisfies HashReply),
    (err: unknown) =>
      parentPort!.postMessage({
        id: request.id,
        ok: false,
        message: err instanceof Error ? err.message : String(err),
      } satisfies HashReply),
  );
});

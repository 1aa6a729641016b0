import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AionError } from '@aion/errors';
import type { HashReply, HashRequest } from './password-hash-protocol';

/** Hashes and checks passwords; what the session service needs of a password hash. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, encoded: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface PasswordHashPoolOptions {
  /** Worker threads at most (each hash holds ~19 MiB and one core for ~100-250 ms). */
  workers: number;
  /** Hashes allowed to wait for a worker; more are refused with service.unavailable. */
  maxQueue: number;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Request = WithoutId<HashRequest>;

interface Job {
  id: number;
  request: Request;
  resolve: (value: string | boolean) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

function workerEntry(): string {
  const bundled = path.join(__dirname, 'password-hash.worker.js');
  return existsSync(bundled) ? bundled : path.join(__dirname, 'password-hash.worker.dev.cjs');
}

/**
 * argon2id (hash-wasm, kept so existing hashes verify unchanged) on a small pool of worker
 * threads: WebAssembly runs synchronously, so on the main thread each hash froze every request
 * of the gateway. A hand-written pool rather than piscina or similar: it is ~100 lines, needs no
 * new dependency, and gives exactly the bounded queue the login path relies on. Workers start on
 * demand and are unref'd, so an idle pool neither costs memory nor holds the process open.
 */
export class PasswordHashPool implements PasswordHasher {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: PasswordHashPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new Error('password hash pool needs at least one worker');
  }

  hash(password: string): Promise<string> {
    return this.submit({ op: 'hash', password }) as Promise<string>;
  }

  verify(password: string, encoded: string): Promise<boolean> {
    return this.submit({ op: 'verify', password, encoded }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0))
      job.reject(new AionError('service.unavailable', 'the gateway is shutting down'));
    await Promise.all(this.slots.splice(0).map((slot) => this.stop(slot)));
  }

  private submit(request: Request): Promise<string | boolean> {
    if (this.closed)
      return Promise.reject(new AionError('service.unavailable', 'the gateway is shutting down'));
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, request, resolve, reject };
      const slot = this.slots.find((s) => !s.job) ?? this.grow();
      if (slot) return this.dispatch(slot, job);
      if (this.queue.length >= this.options.maxQueue)
        return reject(
          new AionError('service.unavailable', 'too many logins at once; retry shortly', {
            retryAfterSeconds: 1,
          }),
        );
      this.queue.push(job);
    });
  }

  private grow(): Slot | undefined {
    if (this.slots.length >= this.options.workers) return undefined;
    const worker = new Worker(workerEntry(), {
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
    });
    worker.unref();
    const slot: Slot = { worker, job: undefined };
    worker.on('message', (reply: HashReply) => this.onReply(slot, reply));
    worker.on('error', (err) => this.onExit(slot, err));
    worker.on('exit', () => this.onExit(slot));
    this.slots.push(slot);
    return slot;
  }

  private dispatch(slot: Slot, job: Job): void {
    slot.job = job;
    slot.worker.postMessage({ ...job.request, id: job.id } as HashRequest);
  }

  private onReply(slot: Slot, reply: HashReply): void {
    const job = slot.job;
    if (!job || reply.id !== job.id) return;
    slot.job = undefined;
    if (reply.ok) job.resolve(reply.value);
    else job.reject(new Error(`password hash failed: ${reply.message}`));
    this.next(slot);
  }

  /** A worker that died fails its own job only; queued work goes to a fresh worker. */
  private onExit(slot: Slot, cause?: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    const job = slot.job;
    slot.job = undefined;
    void slot.worker.terminate();
    job?.reject(new AionError('internal.error', 'password hashing worker failed', { cause }));
    if (this.closed) return;
    const fresh = this.queue.length > 0 ? this.grow() : undefined;
    if (fresh) this.next(fresh);
  }

  private next(slot: Slot): void {
    const job = this.queue.shift();
    if (job) this.dispatch(slot, job);
  }

  private async stop(slot: Slot): Promise<void> {
    slot.job?.reject(new AionError('service.unavailable', 'the gateway is shutting down'));
    slot.job = undefined;
    await slot.worker.terminate();
  }
}

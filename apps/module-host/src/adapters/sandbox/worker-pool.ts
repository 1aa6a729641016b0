import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AionError } from '@aion/errors';
import type { SandboxRun, SandboxRunner, SandboxResult } from '../../core/ports';
import { MAX_PACKAGES_PER_WORKER, type RunRequest, type WorkerMessage } from './worker-protocol';

function workerEntry(): string {
  const bundled = path.join(__dirname, 'wasi.worker.js');
  return existsSync(bundled) ? bundled : path.join(__dirname, 'wasi.worker.dev.cjs');
}

interface Job {
  id: number;
  run: SandboxRun;
  resolve: (result: SandboxResult) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Package keys this slot's worker holds (it applies the same rule when adding one). */
  packages: Set<string>;
}

export interface WorkerPoolOptions {
  size: number;
  /** Invocations allowed to wait for a worker; more are refused (backpressure). */
  maxQueue: number;
  maxStdoutBytes: number;
  maxStderrBytes: number;
}

/**
 * Runs invocations on a fixed pool of worker threads. A run that exceeds its timeout gets its
 * worker terminated (the only way to stop a busy loop inside WebAssembly) and replaced, so one
 * bad module never blocks the others.
 */
export class WorkerPool implements SandboxRunner {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn());
  }

  run(run: SandboxRun): Promise<SandboxResult> {
    if (this.closed)
      return Promise.reject(new AionError('service.unavailable', 'module host is shutting down'));
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, run, resolve, reject };
      const idle = this.slots.find((s) => !s.job);
      if (idle) return this.dispatch(idle, job);
      if (this.queue.length >= this.options.maxQueue) {
        return reject(
          new AionError('service.unavailable', 'all module workers are busy; retry shortly', {
            retryAfterSeconds: 1,
          }),
        );
      }
      this.queue.push(job);
    });
  }

  get busy(): number {
    return this.slots.filter((s) => s.job).length;
  }

  /** Invocations waiting for a worker now. */
  get queued(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0))
      job.reject(new AionError('service.unavailable', 'module host is shutting down'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = new Worker(workerEntry(), {
      // JS-side limits; WebAssembly memory is bounded by the module's declared maximum.
      resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
      stdout: true,
      stderr: true,
    });
    worker.unref();
    const slot: Slot = { worker, job: undefined, timer: undefined, packages: new Set() };
    worker.on('message', (message: WorkerMessage) => this.onMessage(slot, message));
    worker.on('error', (err) =>
      this.replace(slot, new AionError('internal.error', 'module worker crashed', { cause: err })),
    );
    worker.on('exit', () => {
      if (slot.job)
        this.replace(slot, new AionError('internal.error', 'module worker exited unexpectedly'));
    });
    return slot;
  }

  private dispatch(slot: Slot, job: Job): void {
    slot.job = job;
    slot.timer = setTimeout(() => {
      this.replace(
        slot,
        new AionError(
          'service.timeout',
          `module exceeded its ${job.run.timeoutMs} ms time limit and was stopped`,
        ),
      );
    }, job.run.timeoutMs);
    const key = job.run.packageKey;
    const known = slot.packages.has(key);
    if (!known) {
      if (slot.packages.size >= MAX_PACKAGES_PER_WORKER) slot.packages.clear();
      slot.packages.add(key);
    }
    const request: RunRequest = {
      id: job.id,
      packageKey: key,
      ...(known ? {} : { package: { module: job.run.module, files: [...job.run.files] } }),
      args: job.run.args,
      stdin: job.run.stdin,
      maxStdoutBytes: this.options.maxStdoutBytes,
      maxStderrBytes: this.options.maxStderrBytes,
      streamPartials: Boolean(job.run.onPartial),
    };
    slot.worker.postMessage(request);
  }

  private onMessage(slot: Slot, message: WorkerMessage): void {
    const job = slot.job;
    if (!job || message.id !== job.id) return;
    if ('partial' in message) {
      job.run.onPartial?.(message.partial);
      return;
    }
    clearTimeout(slot.timer);
    slot.job = undefined;
    job.resolve(message.outcome);
    this.next(slot);
  }

  /** Terminates a slot's worker (timeout or crash), fails its job, and starts a fresh worker. */
  private replace(slot: Slot, error: Error): void {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = undefined;
    const index = this.slots.indexOf(slot);
    void slot.worker.terminate();
    if (this.closed || index < 0) return job?.reject(error);
    const fresh = this.spawn();
    this.slots[index] = fresh;
    job?.reject(error);
    this.next(fresh);
  }

  private next(slot: Slot): void {
    const job = this.queue.shift();
    if (job) this.dispatch(slot, job);
  }
}

/** Messages between the worker pool and its WASI worker threads. */
import type { RunOutcome } from './run';

/** Packages a worker keeps; the pool applies the same rule, so both agree on what is cached. */
export const MAX_PACKAGES_PER_WORKER = 32;

export interface RunRequest {
  id: number;
  packageKey: string;
  /** Sent the first time this worker runs the package (and again after its cache was cleared). */
  package?: { module: WebAssembly.Module; files: [string, Uint8Array][] };
  args: string[];
  stdin: Uint8Array;
  maxStdoutBytes: number;
  maxStderrBytes: number;
  streamPartials: boolean;
}

export type WorkerMessage = { id: number; partial: string } | { id: number; outcome: RunOutcome };

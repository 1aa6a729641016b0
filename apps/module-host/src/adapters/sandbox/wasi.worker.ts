/**
 * Worker thread that runs WASI modules on request. A worker that overruns its time is
 * terminated by the pool, which is how busy loops are stopped; it holds no state between runs.
 */
import { parentPort } from 'node:worker_threads';
import { runModule } from './run';

export interface RunRequest {
  id: number;
  module: WebAssembly.Module;
  args: string[];
  stdin: Uint8Array;
  files: [string, Uint8Array][];
  maxStdoutBytes: number;
  maxStderrBytes: number;
  streamPartials: boolean;
}

export type WorkerMessage =
  { id: number; partial: string } | { id: number; outcome: Awaited<ReturnType<typeof runModule>> };

parentPort?.on('message', (request: RunRequest) => {
  void runModule(request.module, {
    args: request.args,
    stdin: request.stdin,
    files: new Map(request.files),
    maxStdoutBytes: request.maxStdoutBytes,
    maxStderrBytes: request.maxStderrBytes,
    ...(request.streamPartials
      ? {
          onPartial: (partial: string) =>
            parentPort!.postMessage({ id: request.id, partial } satisfies WorkerMessage),
        }
      : {}),
  }).then((outcome) =>
    parentPort!.postMessage({ id: request.id, outcome } satisfies WorkerMessage),
  );
});

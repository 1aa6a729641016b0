/**
 * Worker thread that runs WASI modules on request. A worker that overruns its time is
 * terminated by the pool, which is how busy loops are stopped. Between runs it keeps only the
 * packages it was sent (module and read-only files, by package key), so the pool sends each
 * package once per worker instead of on every run; nothing of a run survives it.
 */
import { parentPort } from 'node:worker_threads';
import { runModule } from './run';
import { MAX_PACKAGES_PER_WORKER, type RunRequest, type WorkerMessage } from './worker-protocol';

const packages = new Map<string, { module: WebAssembly.Module; files: Map<string, Uint8Array> }>();

parentPort?.on('message', (request: RunRequest) => {
  if (request.package) {
    if (packages.size >= MAX_PACKAGES_PER_WORKER) packages.clear();
    packages.set(request.packageKey, {
      module: request.package.module,
      files: new Map(request.package.files),
    });
  }
  const pkg = packages.get(request.packageKey);
  if (!pkg) {
    const message = `worker has no package ${request.packageKey}`;
    const outcome = {
      ok: false as const,
      kind: 'invalid_module' as const,
      message,
      stderr: '',
      memoryBytes: 0,
    };
    return parentPort!.postMessage({ id: request.id, outcome } satisfies WorkerMessage);
  }
  void runModule(pkg.module, {
    args: request.args,
    stdin: request.stdin,
    files: pkg.files,
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

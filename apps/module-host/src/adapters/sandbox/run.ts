/** Runs one WASI command module to completion with the capabilities of WasiHost. Worker-safe. */
import { OutputLimitExceeded, ProcExit, WasiHost, type WasiOptions } from './wasi';

export type RunOutcome =
  | { ok: true; exitCode: number; stdout: Uint8Array; stderr: string; memoryBytes: number }
  | {
      ok: false;
      kind: 'trap' | 'output_limit' | 'invalid_module';
      message: string;
      stderr: string;
      memoryBytes: number;
    };

export async function runModule(
  module: WebAssembly.Module,
  options: WasiOptions,
): Promise<RunOutcome> {
  const host = new WasiHost(options);
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, host.imports());
  } catch (err) {
    return {
      ok: false,
      kind: 'invalid_module',
      message: err instanceof Error ? err.message : String(err),
      stderr: '',
      memoryBytes: 0,
    };
  }
  const memory = instance.exports['memory'];
  const start = instance.exports['_start'];
  if (!(memory instanceof WebAssembly.Memory) || typeof start !== 'function') {
    return {
      ok: false,
      kind: 'invalid_module',
      message: 'module must export memory and _start (a WASI command)',
      stderr: '',
      memoryBytes: 0,
    };
  }
  host.bind(memory);
  let exitCode = 0;
  try {
    (start as () => void)();
  } catch (err) {
    if (err instanceof ProcExit) exitCode = err.code;
    else if (err instanceof OutputLimitExceeded)
      return {
        ok: false,
        kind: 'output_limit',
        message: err.message,
        stderr: host.stderrText(),
        memoryBytes: memory.buffer.byteLength,
      };
    else
      return {
        ok: false,
        kind: 'trap',
        message: err instanceof Error ? err.message : String(err),
        stderr: host.stderrText(),
        memoryBytes: memory.buffer.byteLength,
      };
  }
  return {
    ok: true,
    exitCode,
    stdout: host.stdoutBytesWritten(),
    stderr: host.stderrText(),
    memoryBytes: memory.buffer.byteLength,
  };
}

/**
 * A WASI preview1 host written for isolation, not convenience. node:wasi is documented as not
 * being a sandbox, so the module gets exactly these capabilities and nothing else:
 *   - stdin: the invocation's JSON input; stdout/stderr: bounded in-memory buffers
 *   - clocks and random numbers
 *   - one read-only preopened directory, `/pkg`, holding only the files the manifest declares
 *     (an in-memory map: there is no host path behind it to escape to)
 *   - no network, no environment, no other file descriptors
 * Every other WASI function answers ENOSYS or ENOTCAPABLE. This file imports nothing from
 * the workspace: it also runs inside worker threads.
 */
import { randomFillSync } from 'node:crypto';

export const ERRNO = {
  SUCCESS: 0,
  ACCES: 2,
  BADF: 8,
  FAULT: 21,
  INVAL: 28,
  IO: 29,
  ISDIR: 31,
  NAMETOOLONG: 37,
  NOENT: 44,
  NOSYS: 52,
  NOTDIR: 54,
  PERM: 63,
  ROFS: 69,
  SPIPE: 70,
  NOTCAPABLE: 76,
} as const;

const FILETYPE = { CHARACTER_DEVICE: 2, DIRECTORY: 3, REGULAR_FILE: 4 } as const;
const PREOPEN_FD = 3;
export const PREOPEN_NAME = '/pkg';

// Rights bits (WASI preview1): what a read-only file or directory may be asked for.
const RIGHT = {
  FD_READ: 1n << 1n,
  FD_SEEK: 1n << 2n,
  FD_TELL: 1n << 5n,
  FD_WRITE: 1n << 6n,
  PATH_OPEN: 1n << 13n,
  FD_READDIR: 1n << 14n,
  PATH_FILESTAT_GET: 1n << 18n,
  FD_FILESTAT_GET: 1n << 21n,
};
const FILE_RIGHTS = RIGHT.FD_READ | RIGHT.FD_SEEK | RIGHT.FD_TELL | RIGHT.FD_FILESTAT_GET;
const DIR_RIGHTS = RIGHT.PATH_OPEN | RIGHT.PATH_FILESTAT_GET | RIGHT.FD_FILESTAT_GET;
/** Any of these requested means the module wants to modify something: refused. */
const WRITE_RIGHTS =
  RIGHT.FD_WRITE |
  (1n << 0n) |
  (1n << 3n) |
  (1n << 4n) |
  (1n << 8n) |
  (1n << 10n) |
  (1n << 11n) |
  (1n << 12n) |
  (1n << 15n) |
  (1n << 16n) |
  (1n << 19n) |
  (1n << 20n) |
  (1n << 22n) |
  (1n << 23n) |
  (1n << 24n) |
  (1n << 25n) |
  (1n << 26n);
const OFLAGS = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 };

export class ProcExit extends Error {
  constructor(readonly code: number) {
    super(`module exited with code ${code}`);
  }
}

export class OutputLimitExceeded extends Error {
  constructor(
    readonly stream: string,
    readonly limit: number,
  ) {
    super(`module wrote more than ${limit} bytes to ${stream}`);
  }
}

interface OpenFile {
  kind: 'file';
  data: Uint8Array;
  position: number;
}

export interface WasiOptions {
  args: string[];
  stdin: Uint8Array;
  /** Declared package files, by normalised relative path ("data/stopwords.txt"). */
  files: ReadonlyMap<string, Uint8Array>;
  maxStdoutBytes: number;
  maxStderrBytes: number;
  /** Called for each complete stderr line that starts with "aion:partial " (streaming). */
  onPartial?: (text: string) => void;
}

/**
 * Resolves a path the module asked for against the package's declared files. Absolute paths,
 * `..` that would leave the package, NUL bytes and anything undeclared resolve to nothing.
 */
export function resolvePackagePath(
  requested: string,
  files: ReadonlyMap<string, Uint8Array>,
): { kind: 'file'; path: string } | { kind: 'dir' } | { errno: number } {
  if (requested.includes('\0')) return { errno: ERRNO.INVAL };
  if (requested.length > 4096) return { errno: ERRNO.NAMETOOLONG };
  if (requested.startsWith('/')) return { errno: ERRNO.NOTCAPABLE };
  const parts: string[] = [];
  for (const segment of requested.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) return { errno: ERRNO.NOTCAPABLE };
      parts.pop();
      continue;
    }
    parts.push(segment);
  }
  const path = parts.join('/');
  if (path === '') return { kind: 'dir' };
  if (files.has(path)) return { kind: 'file', path };
  const prefix = `${path}/`;
  for (const name of files.keys()) if (name.startsWith(prefix)) return { kind: 'dir' };
  return { errno: ERRNO.NOENT };
}

export class WasiHost {
  private memory: WebAssembly.Memory | undefined;
  private readonly stdout: Uint8Array[] = [];
  private stdoutBytes = 0;
  private readonly stderr: Uint8Array[] = [];
  private stderrBytes = 0;
  private stderrLine = '';
  private stdinPosition = 0;
  private readonly openFiles = new Map<number, OpenFile>();
  private nextFd = PREOPEN_FD + 1;
  private readonly argBytes: Uint8Array[];

  constructor(private readonly options: WasiOptions) {
    this.argBytes = options.args.map((a) => new TextEncoder().encode(`${a}\0`));
  }

  bind(memory: WebAssembly.Memory): void {
    this.memory = memory;
  }

  stdoutBytesWritten(): Uint8Array {
    return Buffer.concat(this.stdout);
  }

  stderrText(): string {
    return Buffer.concat(this.stderr).toString('utf8');
  }

  /** The import object: known functions implemented, every other name denied with ENOSYS. */
  imports(): WebAssembly.Imports {
    const implemented = this.functions();
    const wasi = new Proxy(implemented, {
      get: (target, name: string) => target[name] ?? (() => ERRNO.NOSYS),
    });
    return { wasi_snapshot_preview1: wasi as unknown as WebAssembly.ModuleImports };
  }

  private view(): DataView {
    if (!this.memory) throw new Error('memory not bound');
    return new DataView(this.memory.buffer);
  }

  private bytes(ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.memory!.buffer, ptr, len);
  }

  private inBounds(ptr: number, len: number): boolean {
    return ptr >= 0 && len >= 0 && ptr + len <= this.memory!.buffer.byteLength;
  }

  private iovecs(iovs: number, count: number): { ptr: number; len: number }[] | undefined {
    if (!this.inBounds(iovs, count * 8)) return undefined;
    const v = this.view();
    const out: { ptr: number; len: number }[] = [];
    for (let i = 0; i < count; i++) {
      const ptr = v.getUint32(iovs + i * 8, true);
      const len = v.getUint32(iovs + i * 8 + 4, true);
      if (!this.inBounds(ptr, len)) return undefined;
      out.push({ ptr, len });
    }
    return out;
  }

  private write(fd: number, chunk: Uint8Array): number {
    if (fd === 1) {
      if (this.stdoutBytes + chunk.length > this.options.maxStdoutBytes)
        throw new OutputLimitExceeded('stdout', this.options.maxStdoutBytes);
      this.stdout.push(chunk.slice());
      this.stdoutBytes += chunk.length;
      return ERRNO.SUCCESS;
    }
    if (fd === 2) {
      if (this.stderrBytes + chunk.length > this.options.maxStderrBytes)
        throw new OutputLimitExceeded('stderr', this.options.maxStderrBytes);
      this.stderr.push(chunk.slice());
      this.stderrBytes += chunk.length;
      if (this.options.onPartial) this.scanPartials(Buffer.from(chunk).toString('utf8'));
      return ERRNO.SUCCESS;
    }
    return fd === 0 || fd === PREOPEN_FD || this.openFiles.has(fd) ? ERRNO.NOTCAPABLE : ERRNO.BADF;
  }

  private scanPartials(text: string): void {
    const lines = (this.stderrLine + text).split('\n');
    this.stderrLine = lines.pop() ?? '';
    for (const line of lines)
      if (line.startsWith('aion:partial '))
        this.options.onPartial!(line.slice('aion:partial '.length));
  }

  private writeFilestat(ptr: number, filetype: number, size: number): void {
    const v = this.view();
    for (let i = 0; i < 64; i += 8) v.setBigUint64(ptr + i, 0n, true);
    v.setUint8(ptr + 16, filetype);
    v.setBigUint64(ptr + 24, 1n, true);
    v.setBigUint64(ptr + 32, BigInt(size), true);
  }

  private functions(): Record<string, (...args: never[]) => number> {
    const fns: Record<string, (...args: never[]) => number> = {
      args_sizes_get: (argcPtr: number, bufSizePtr: number) => {
        if (!this.inBounds(argcPtr, 4) || !this.inBounds(bufSizePtr, 4)) return ERRNO.FAULT;
        this.view().setUint32(argcPtr, this.argBytes.length, true);
        this.view().setUint32(
          bufSizePtr,
          this.argBytes.reduce((n, a) => n + a.length, 0),
          true,
        );
        return ERRNO.SUCCESS;
      },
      args_get: (argvPtr: number, bufPtr: number) => {
        const total = this.argBytes.reduce((n, a) => n + a.length, 0);
        if (!this.inBounds(argvPtr, this.argBytes.length * 4) || !this.inBounds(bufPtr, total))
          return ERRNO.FAULT;
        let offset = bufPtr;
        this.argBytes.forEach((arg, i) => {
          this.view().setUint32(argvPtr + i * 4, offset, true);
          this.bytes(offset, arg.length).set(arg);
          offset += arg.length;
        });
        return ERRNO.SUCCESS;
      },
      environ_sizes_get: (countPtr: number, sizePtr: number) => {
        if (!this.inBounds(countPtr, 4) || !this.inBounds(sizePtr, 4)) return ERRNO.FAULT;
        this.view().setUint32(countPtr, 0, true);
        this.view().setUint32(sizePtr, 0, true);
        return ERRNO.SUCCESS;
      },
      environ_get: () => ERRNO.SUCCESS,
      clock_res_get: (_id: number, resPtr: number) => {
        if (!this.inBounds(resPtr, 8)) return ERRNO.FAULT;
        this.view().setBigUint64(resPtr, 1000n, true);
        return ERRNO.SUCCESS;
      },
      clock_time_get: (id: number, _precision: bigint, timePtr: number) => {
        if (!this.inBounds(timePtr, 8)) return ERRNO.FAULT;
        const ns = id === 0 ? BigInt(Date.now()) * 1_000_000n : process.hrtime.bigint();
        this.view().setBigUint64(timePtr, ns, true);
        return ERRNO.SUCCESS;
      },
      random_get: (ptr: number, len: number) => {
        if (!this.inBounds(ptr, len)) return ERRNO.FAULT;
        randomFillSync(this.bytes(ptr, len));
        return ERRNO.SUCCESS;
      },
      sched_yield: () => ERRNO.SUCCESS,
      proc_exit: (code: number) => {
        throw new ProcExit(code);
      },
      fd_write: (fd: number, iovs: number, count: number, nwrittenPtr: number) => {
        const list = this.iovecs(iovs, count);
        if (!list || !this.inBounds(nwrittenPtr, 4)) return ERRNO.FAULT;
        let written = 0;
        for (const { ptr, len } of list) {
          const errno = this.write(fd, this.bytes(ptr, len));
          if (errno !== ERRNO.SUCCESS) return errno;
          written += len;
        }
        this.view().setUint32(nwrittenPtr, written, true);
        return ERRNO.SUCCESS;
      },
      fd_read: (fd: number, iovs: number, count: number, nreadPtr: number) => {
        const list = this.iovecs(iovs, count);
        if (!list || !this.inBounds(nreadPtr, 4)) return ERRNO.FAULT;
        let source: Uint8Array;
        let position: number;
        const file = this.openFiles.get(fd);
        if (fd === 0) [source, position] = [this.options.stdin, this.stdinPosition];
        else if (file) [source, position] = [file.data, file.position];
        else return fd === PREOPEN_FD ? ERRNO.ISDIR : ERRNO.BADF;
        let read = 0;
        for (const { ptr, len } of list) {
          const chunk = source.subarray(position, position + len);
          this.bytes(ptr, chunk.length).set(chunk);
          position += chunk.length;
          read += chunk.length;
          if (chunk.length < len) break;
        }
        if (fd === 0) this.stdinPosition = position;
        else file!.position = position;
        this.view().setUint32(nreadPtr, read, true);
        return ERRNO.SUCCESS;
      },
      fd_seek: (fd: number, offset: bigint, whence: number, newOffsetPtr: number) => {
        const file = this.openFiles.get(fd);
        if (!file) return fd <= 2 ? ERRNO.SPIPE : ERRNO.BADF;
        if (!this.inBounds(newOffsetPtr, 8)) return ERRNO.FAULT;
        const base =
          whence === 0 ? 0 : whence === 1 ? file.position : whence === 2 ? file.data.length : -1;
        const next = base + Number(offset);
        if (base < 0 || next < 0) return ERRNO.INVAL;
        file.position = next;
        this.view().setBigUint64(newOffsetPtr, BigInt(next), true);
        return ERRNO.SUCCESS;
      },
      fd_tell: (fd: number, offsetPtr: number) => {
        const file = this.openFiles.get(fd);
        if (!file) return fd <= 2 ? ERRNO.SPIPE : ERRNO.BADF;
        if (!this.inBounds(offsetPtr, 8)) return ERRNO.FAULT;
        this.view().setBigUint64(offsetPtr, BigInt(file.position), true);
        return ERRNO.SUCCESS;
      },
      fd_close: (fd: number) => {
        if (this.openFiles.delete(fd)) return ERRNO.SUCCESS;
        return fd <= PREOPEN_FD ? ERRNO.SUCCESS : ERRNO.BADF;
      },
      fd_fdstat_get: (fd: number, statPtr: number) => {
        if (!this.inBounds(statPtr, 24)) return ERRNO.FAULT;
        const v = this.view();
        let filetype: number;
        let base: bigint;
        let inheriting = 0n;
        if (fd === 0) [filetype, base] = [FILETYPE.CHARACTER_DEVICE, RIGHT.FD_READ];
        else if (fd === 1 || fd === 2)
          [filetype, base] = [FILETYPE.CHARACTER_DEVICE, RIGHT.FD_WRITE];
        else if (fd === PREOPEN_FD)
          [filetype, base, inheriting] = [FILETYPE.DIRECTORY, DIR_RIGHTS, FILE_RIGHTS];
        else if (this.openFiles.has(fd)) [filetype, base] = [FILETYPE.REGULAR_FILE, FILE_RIGHTS];
        else return ERRNO.BADF;
        v.setUint8(statPtr, filetype);
        v.setUint16(statPtr + 2, 0, true);
        v.setBigUint64(statPtr + 8, base, true);
        v.setBigUint64(statPtr + 16, inheriting, true);
        return ERRNO.SUCCESS;
      },
      fd_fdstat_set_flags: (fd: number) =>
        fd <= 2 || this.openFiles.has(fd) ? ERRNO.NOTCAPABLE : ERRNO.BADF,
      fd_prestat_get: (fd: number, prestatPtr: number) => {
        if (fd !== PREOPEN_FD) return ERRNO.BADF;
        if (!this.inBounds(prestatPtr, 8)) return ERRNO.FAULT;
        this.view().setUint8(prestatPtr, 0);
        this.view().setUint32(prestatPtr + 4, PREOPEN_NAME.length, true);
        return ERRNO.SUCCESS;
      },
      fd_prestat_dir_name: (fd: number, pathPtr: number, pathLen: number) => {
        if (fd !== PREOPEN_FD) return ERRNO.BADF;
        if (!this.inBounds(pathPtr, pathLen)) return ERRNO.FAULT;
        this.bytes(pathPtr, Math.min(pathLen, PREOPEN_NAME.length)).set(
          new TextEncoder().encode(PREOPEN_NAME).subarray(0, pathLen),
        );
        return ERRNO.SUCCESS;
      },
      fd_filestat_get: (fd: number, statPtr: number) => {
        if (!this.inBounds(statPtr, 64)) return ERRNO.FAULT;
        const file = this.openFiles.get(fd);
        if (file) this.writeFilestat(statPtr, FILETYPE.REGULAR_FILE, file.data.length);
        else if (fd === PREOPEN_FD) this.writeFilestat(statPtr, FILETYPE.DIRECTORY, 0);
        else if (fd <= 2) this.writeFilestat(statPtr, FILETYPE.CHARACTER_DEVICE, 0);
        else return ERRNO.BADF;
        return ERRNO.SUCCESS;
      },
      path_filestat_get: (
        fd: number,
        _flags: number,
        pathPtr: number,
        pathLen: number,
        statPtr: number,
      ) => {
        if (fd !== PREOPEN_FD) return ERRNO.BADF;
        if (!this.inBounds(pathPtr, pathLen) || !this.inBounds(statPtr, 64)) return ERRNO.FAULT;
        const resolved = resolvePackagePath(
          Buffer.from(this.bytes(pathPtr, pathLen)).toString('utf8'),
          this.options.files,
        );
        if ('errno' in resolved) return resolved.errno;
        if (resolved.kind === 'dir') this.writeFilestat(statPtr, FILETYPE.DIRECTORY, 0);
        else
          this.writeFilestat(
            statPtr,
            FILETYPE.REGULAR_FILE,
            this.options.files.get(resolved.path)!.length,
          );
        return ERRNO.SUCCESS;
      },
      path_open: (
        fd: number,
        _dirflags: number,
        pathPtr: number,
        pathLen: number,
        oflags: number,
        rightsBase: bigint,
        _inheriting: bigint,
        fdflags: number,
        fdPtr: number,
      ) => {
        if (fd !== PREOPEN_FD) return ERRNO.BADF;
        if (!this.inBounds(pathPtr, pathLen) || !this.inBounds(fdPtr, 4)) return ERRNO.FAULT;
        // Read-only package: no creating, truncating, appending or write rights.
        if (
          oflags & (OFLAGS.CREAT | OFLAGS.TRUNC | OFLAGS.EXCL) ||
          fdflags & 1 ||
          (BigInt(rightsBase) & WRITE_RIGHTS) !== 0n
        )
          return ERRNO.ROFS;
        const resolved = resolvePackagePath(
          Buffer.from(this.bytes(pathPtr, pathLen)).toString('utf8'),
          this.options.files,
        );
        if ('errno' in resolved) return resolved.errno;
        if (resolved.kind === 'dir') return ERRNO.NOTCAPABLE;
        if (oflags & OFLAGS.DIRECTORY) return ERRNO.NOTDIR;
        if (this.openFiles.size >= 64) return ERRNO.NOTCAPABLE;
        const newFd = this.nextFd++;
        this.openFiles.set(newFd, {
          kind: 'file',
          data: this.options.files.get(resolved.path)!,
          position: 0,
        });
        this.view().setUint32(fdPtr, newFd, true);
        return ERRNO.SUCCESS;
      },
      poll_oneoff: () => ERRNO.NOTCAPABLE,
      sock_accept: () => ERRNO.NOTCAPABLE,
      sock_recv: () => ERRNO.NOTCAPABLE,
      sock_send: () => ERRNO.NOTCAPABLE,
      sock_shutdown: () => ERRNO.NOTCAPABLE,
    };
    return fns;
  }
}

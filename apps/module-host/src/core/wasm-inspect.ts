/**
 * Reads a module's declared memory limits from its binary. The WebAssembly JS API exposes
 * neither minimum nor maximum of a module's memory, and a full parser would be a large
 * dependency for two numbers, so this walks the section headers (import 0x02, memory 0x05).
 */
const PAGE = 64 * 1024;

export interface MemoryLimits {
  minPages: number;
  maxPages: number | undefined;
}

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public offset = 0,
  ) {}

  byte(): number {
    if (this.offset >= this.bytes.length) throw new Error('unexpected end of module');
    return this.bytes[this.offset++]!;
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 35) throw new Error('bad LEB128');
    }
  }

  skip(n: number): void {
    this.offset += n;
  }

  name(): void {
    this.skip(this.u32());
  }

  limits(): MemoryLimits {
    const flags = this.u32();
    const minPages = this.u32();
    return { minPages, maxPages: flags & 1 ? this.u32() : undefined };
  }
}

export function memoryLimits(wasm: Uint8Array): MemoryLimits[] {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d)
    throw new Error('not a WebAssembly module');
  const reader = new Reader(wasm, 8);
  const found: MemoryLimits[] = [];
  while (reader.offset < wasm.length) {
    const id = reader.byte();
    const size = reader.u32();
    const end = reader.offset + size;
    if (id === 2) {
      const count = reader.u32();
      for (let i = 0; i < count; i++) {
        reader.name();
        reader.name();
        const kind = reader.byte();
        if (kind === 0) reader.u32();
        else if (kind === 1) {
          reader.byte();
          reader.limits();
        } else if (kind === 2) found.push(reader.limits());
        else if (kind === 3) reader.skip(2);
        else throw new Error(`unknown import kind ${kind}`);
      }
    } else if (id === 5) {
      const count = reader.u32();
      for (let i = 0; i < count; i++) found.push(reader.limits());
    }
    reader.offset = end;
  }
  return found;
}

export function pagesToMb(pages: number): number {
  return (pages * PAGE) / (1024 * 1024);
}

export function pagesToBytes(pages: number): number {
  return pages * PAGE;
}

/** "16 MiB" when whole mebibytes, else the exact bytes ("512000000 bytes, 488.3 MiB"). */
export function describeBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB` : `${bytes} bytes (${mib.toFixed(1)} MiB)`;
}

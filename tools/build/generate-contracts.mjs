// Generates TypeScript from proto/ with buf + protoc-gen-es into libs/contracts/src/gen.
// Output is wiped first so a removed .proto never leaves a stale file behind.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'node_modules', '.bin');
rmSync(path.join(root, 'libs/contracts/src/gen'), { recursive: true, force: true });
execFileSync(path.join(bin, 'buf'), ['generate'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` },
});

// Generates TypeScript from proto/ with buf + protoc-gen-es into libs/contracts/src/gen.
// Runs as npm's postinstall (so `npm install` / `npm ci` leave a startable checkout) and as
// `nx run contracts:generate`. Both tools come from npm packages (buf's binary is an optional
// dependency per platform), so no system package is needed. Silent on success.
// Output is wiped first so a removed .proto never leaves a stale file behind.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'node_modules', '.bin');
const buf = path.join(bin, 'buf');
if (!existsSync(buf)) {
  // Only an install without devDependencies (--omit=dev) gets here; it cannot start the platform
  // either (tsx is a devDependency), and failing that install would help nobody.
  console.warn(
    '[contracts] not generated: @bufbuild/buf is not installed (devDependencies omitted)',
  );
  process.exit(0);
}
rmSync(path.join(root, 'libs/contracts/src/gen'), { recursive: true, force: true });
try {
  execFileSync(buf, ['generate'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` },
  });
} catch {
  // buf has printed what is wrong; a stack trace of this script would only bury it.
  console.error('[contracts] buf generate failed (proto/ -> libs/contracts/src/gen)');
  process.exit(1);
}

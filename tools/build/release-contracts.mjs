// Cuts a release of the contracts: writes the buf image of proto/ to
// libs/contracts/released/aion-v1.binpb, the image `buf breaking` checks every later change
// against (tools/ci/test-all.sh). Run it when a contract version ships (`npm run
// contracts:release`), then commit the image. A release that breaks the previous one is refused
// unless `--breaking` says it is meant (a new package version, e.g. aion.v2, is the usual way).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const released = path.join(root, 'libs', 'contracts', 'released', 'aion-v1.binpb');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-contracts-'));
const candidate = path.join(scratch, 'aion-v1.binpb');
const buf = (...args) =>
  execFileSync(path.join(root, 'node_modules', '.bin', 'buf'), args, {
    cwd: root,
    stdio: 'inherit',
  });

buf('lint');
mkdirSync(path.dirname(released), { recursive: true });
// Without source info: smaller, and the same bytes for the same contracts.
buf('build', '--exclude-source-info', '-o', candidate);
if (existsSync(released) && !process.argv.includes('--breaking')) {
  try {
    buf('breaking', candidate, '--against', released);
  } catch {
    rmSync(scratch, { recursive: true, force: true });
    console.error('refused: this release breaks the previous one (pass --breaking if meant)');
    process.exit(1);
  }
}
copyFileSync(candidate, released);
rmSync(scratch, { recursive: true, force: true });
console.log(`released ${path.relative(root, released)}; commit it`);

// Runs one benchmark the way services run in production: bundled by esbuild with the same
// options as tools/build/bundle.mjs (tsx would add keepNames wrappers that distort hot loops).
//   node tools/bench/run.mjs <name> [args...]   (tools/bench/<name>.bench.ts)
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const [name, ...args] = process.argv.slice(2);
const entry = path.join(root, 'tools', 'bench', `${name ?? ''}.bench.ts`);
if (!name || !existsSync(entry)) {
  console.error(
    'usage: node tools/bench/run.mjs <router|residency|tenant-transaction|hop> [args...]',
  );
  process.exit(2);
}
const outdir = mkdtempSync(path.join(tmpdir(), 'aion-bench-'));
await build({
  absWorkingDir: root,
  entryPoints: [{ in: entry, out: name }],
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  format: 'cjs',
  packages: 'external',
  tsconfig: 'tsconfig.base.json',
  logLevel: 'warning',
});
// Bundled code resolves npm packages from the workspace's node_modules.
const result = spawnSync(process.execPath, [path.join(outdir, `${name}.js`), ...args], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') },
});
process.exit(result.status ?? 1);

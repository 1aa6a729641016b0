// Bundles one app (apps/<name>/src/main.ts) into dist/apps/<name>/main.js with esbuild:
// workspace libs are inlined, npm packages stay external and come from node_modules.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const projectRoot = process.argv[2];
if (!projectRoot || !projectRoot.startsWith('apps/')) {
  console.error('usage: node tools/build/bundle.mjs apps/<name>');
  process.exit(2);
}

await build({
  absWorkingDir: root,
  entryPoints: [path.join(projectRoot, 'src', 'main.ts')],
  outfile: path.join('dist', projectRoot, 'main.js'),
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  tsconfig: 'tsconfig.base.json',
  logLevel: 'info',
});

// Bundles one app (apps/<name>/src/main.ts) into dist/apps/<name>/main.js with esbuild:
// workspace libs are inlined, npm packages stay external and come from node_modules.
import { build } from 'esbuild';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const projectRoot = process.argv[2];
if (!projectRoot || !projectRoot.startsWith('apps/')) {
  console.error('usage: node tools/build/bundle.mjs apps/<name>');
  process.exit(2);
}

// Worker-thread entry points (`*.worker.ts`, the app's and the libs' it may inline) become their
// own files next to main.js, where the code that starts them looks first.
const workersUnder = (folder) =>
  readdirSync(path.join(root, folder), { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.worker.ts'))
    .map((file) => path.join(folder, file));
const workers = [
  ...workersUnder(path.join(projectRoot, 'src')),
  ...readdirSync(path.join(root, 'libs')).flatMap((lib) =>
    existsSync(path.join(root, 'libs', lib, 'src'))
      ? workersUnder(path.join('libs', lib, 'src'))
      : [],
  ),
];

await build({
  absWorkingDir: root,
  entryPoints: [
    { in: path.join(projectRoot, 'src', 'main.ts'), out: 'main' },
    ...workers.map((file) => ({ in: file, out: path.basename(file, '.ts') })),
  ],
  outdir: path.join('dist', projectRoot),
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  tsconfig: 'tsconfig.base.json',
  logLevel: 'info',
});

// Migrations travel with the bundle (the service finds them beside main.js).
const migrations = path.join(root, projectRoot, 'migrations');
if (existsSync(migrations))
  cpSync(migrations, path.join(root, 'dist', projectRoot, 'migrations'), { recursive: true });

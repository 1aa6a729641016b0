// The /app tree of the images: node tools/images/bundle.mjs OUT_DIR
//   apps/<service>/main.js     one bundle per service, npm packages inlined (unlike
//                              tools/build/bundle.mjs, which keeps them in node_modules for dev)
//   apps/<service>/*.worker.js worker threads, beside the bundle that starts them
//   apps/<service>/migrations  drizzle migrations (found beside main.js), config/ where the app has one
//   apps/co-located/main.js    tools/launcher/start-co-located.ts (the chart's co-located profile)
//   tools/migrate.js           libs/db/src/cli.ts (the chart's migration Job)
//   tools/kafka-topics.js      libs/runtime/src/kafka-topics-cli.ts (the chart's topic Job)
//   node_modules/              only the packages that cannot be inlined, with their locked dependencies
// and OUT_DIR/../npm-packages.json (every npm package in the tree, for the SBOM).
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = path.resolve(process.argv[2] ?? '');
if (!process.argv[2]) {
  console.error('usage: node tools/images/bundle.mjs OUT_DIR');
  process.exit(2);
}
const SERVICES = [
  'gateway',
  'orchestrator',
  'sovereign-ai',
  'data-pipeline',
  'observability',
  'module-host',
];

// Packages that read files beside their own code at run time (PGlite its .wasm/.data, the health
// check its .proto), so inlining would lose those files: they ship as packages instead.
// DuckDB (the data pipeline's engine) is a native add-on: its .node file ships as a package, the
// one built for the image's platform (below).
const SHIPPED = ['@electric-sql/pglite', 'grpc-health-check', '@duckdb/node-api'];
// The image's platform: an optional dependency built for it ships (a native add-on's binary).
const forImage = (entry) =>
  (!entry.os || entry.os.includes('linux')) &&
  (!entry.cpu || entry.cpu.includes('x64')) &&
  (!entry.libc || entry.libc.includes('glibc'));
// Optional native add-ons their users load only if present (pg, ws); the image has none.
const ABSENT = ['pg-native', 'bufferutil', 'utf-8-validate'];

const workersIn = (dir) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.worker.ts') && !f.includes('node_modules'))
        .sort()
        .map((f) => path.join(dir, f))
    : [];
// Workers of the libraries (PGlite's thread in libs/db) go beside every bundle that may start them.
const libWorkers = readdirSync(path.join(root, 'libs'))
  .sort()
  .flatMap((lib) => workersIn(path.join(root, 'libs', lib, 'src')));

/**
 * In the co-located bundle every service's code sees as __dirname the directory of that service's
 * own bundle (/app/apps/<service>), as it would in its own image: that is where its migrations,
 * config/ and worker files are. Without this all four would share the launcher's directory.
 */
const serviceDirname = {
  name: 'aion-service-dirname',
  setup(b) {
    b.onLoad({ filter: /[\\/]apps[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, (args) => {
      const relative = path.relative(path.join(root, 'apps'), args.path);
      if (relative.startsWith('..')) return undefined;
      const service = relative.split(path.sep)[0];
      const source = readFileSync(args.path, 'utf8');
      if (!/(?<![\w$.])__dirname(?![\w$])/.test(source)) return undefined;
      return {
        loader: 'ts',
        contents: source.replace(
          /(?<![\w$.])__dirname(?![\w$])/g,
          `__aionServiceDir(${JSON.stringify(service)})`,
        ),
      };
    });
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  external: [...SHIPPED, ...ABSENT],
  tsconfig: 'tsconfig.base.json',
  // A commit build links node_modules in from the checkout: paths stay node_modules/..., as here.
  preserveSymlinks: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
};

const inputs = new Set();
async function bundle(entries, outdir, extra = {}) {
  const result = await build({
    ...common,
    ...extra,
    entryPoints: entries.map(([name, file]) => ({ in: file, out: name })),
    outdir: path.join(out, outdir),
  });
  for (const input of Object.keys(result.metafile.inputs)) inputs.add(input);
}

const workerEntries = (files) => files.map((f) => [path.basename(f, '.ts'), f]);

for (const service of SERVICES) {
  const appDir = path.join(root, 'apps', service);
  await bundle(
    [
      ['main', path.join(appDir, 'src', 'main.ts')],
      ...workerEntries([...workersIn(path.join(appDir, 'src')), ...libWorkers]),
    ],
    path.join('apps', service),
  );
  for (const data of ['migrations', 'config'])
    if (existsSync(path.join(appDir, data)))
      cpSync(path.join(appDir, data), path.join(out, 'apps', service, data), { recursive: true });
}

await bundle(
  [
    ['main', path.join(root, 'tools', 'launcher', 'start-co-located.ts')],
    ...workerEntries(libWorkers),
  ],
  path.join('apps', 'co-located'),
  {
    plugins: [serviceDirname],
    banner: {
      js: 'const __aionServiceDir = (service) => require("node:path").join(__dirname, "..", service);',
    },
  },
);
await bundle(
  [
    ['migrate', path.join(root, 'tools', 'images', 'migrate-entry.cjs')],
    ['kafka-topics', path.join(root, 'libs', 'runtime', 'src', 'kafka-topics-cli.ts')],
  ],
  'tools',
);

// The shipped packages and what they depend on, resolved exactly as the lockfile placed them.
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')).packages;
const shipped = new Set();
function ship(dir) {
  if (shipped.has(dir)) return;
  const entry = lock[dir];
  if (!entry) throw new Error(`${dir} is not in package-lock.json`);
  shipped.add(dir);
  for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
    // Node's lookup: the nearest node_modules/<dep> up from the dependent package.
    let at = dir;
    let found;
    while (!found) {
      const candidate = `${at}/node_modules/${dep}`;
      if (lock[candidate]) found = candidate;
      else if (!at.includes('/node_modules/')) {
        if (lock[`node_modules/${dep}`]) found = `node_modules/${dep}`;
        else if (entry.optionalDependencies?.[dep]) break;
        else throw new Error(`${dep} (needed by ${dir}) is not in package-lock.json`);
      } else at = at.slice(0, at.lastIndexOf('/node_modules/'));
    }
    // Type declarations (@types/*) are not code: nothing at run time loads them.
    if (found && (!lock[found].optional || forImage(lock[found])) && !dep.startsWith('@types/'))
      ship(found);
  }
}
for (const name of SHIPPED) ship(`node_modules/${name}`);
for (const dir of [...shipped].sort()) {
  // A package's own files; nested node_modules come in only as shipped packages of their own.
  cpSync(path.join(root, dir), path.join(out, dir), {
    recursive: true,
    filter: (src) => !path.relative(path.join(root, dir), src).startsWith('node_modules'),
  });
}

// CommonJS, said once, so Node does not have to guess each bundle's module type.
writeFileSync(
  path.join(out, 'package.json'),
  `${JSON.stringify({ name: 'aion-image', private: true, type: 'commonjs' }, null, 2)}\n`,
);

// Every npm package whose code is in the image, inlined or shipped, with its locked version.
const packageDirs = new Set(shipped);
for (const input of inputs) {
  const m = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
  if (m) packageDirs.add(m[1]);
}
const packages = [...packageDirs]
  .map((dir) => {
    const manifest = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
    return {
      name: manifest.name,
      version: manifest.version,
      license: typeof manifest.license === 'string' ? manifest.license : undefined,
      integrity: lock[dir]?.integrity,
      shipped: shipped.has(dir),
    };
  })
  .sort((a, b) => `${a.name}@${a.version}`.localeCompare(`${b.name}@${b.version}`));
const unique = packages.filter(
  (p, i) =>
    i === 0 || `${p.name}@${p.version}` !== `${packages[i - 1].name}@${packages[i - 1].version}`,
);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(
  path.join(path.dirname(out), 'npm-packages.json'),
  `${JSON.stringify(unique, null, 2)}\n`,
);
console.error(
  `[images] bundled ${SERVICES.length} services, co-located, migrate and kafka-topics; ${unique.length} npm packages (${shipped.size} shipped as files)`,
);

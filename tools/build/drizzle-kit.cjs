// Runs drizzle-kit with the workspace's `@aion/<lib>` aliases resolvable: drizzle-kit loads schema
// files with its own register hook, which ignores tsconfig paths.
const Module = require('node:module');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveAionAlias(request, ...rest) {
  const match = /^@aion\/([a-z-]+)$/.exec(request);
  const target = match ? path.join(root, 'libs', match[1], 'src', 'index.ts') : request;
  return resolve.call(this, target, ...rest);
};

require(path.join(root, 'node_modules', 'drizzle-kit', 'bin.cjs'));

// Source checkouts (tests, `npm start`): load the TypeScript worker through tsx. Bundled builds
// ship pglite.worker.js instead (tools/build/bundle.mjs).
require('tsx/cjs/api').register();
require('./pglite.worker.ts');

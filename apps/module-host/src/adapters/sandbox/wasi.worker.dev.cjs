// Source checkouts (tests, `npm start`): load the TypeScript worker through tsx. Bundled builds
// ship wasi.worker.js instead (tools/build/bundle.mjs).
require('tsx/cjs/api').register();
require('./wasi.worker.ts');

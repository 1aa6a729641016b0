// Source checkouts (tests, `npm start`): load the TypeScript worker through tsx. Bundled builds
// ship password-hash.worker.js instead (tools/build/bundle.mjs).
require('tsx/cjs/api').register();
require('./password-hash.worker.ts');

// Source checkouts (tests, `npm start`): load the TypeScript worker through tsx. Bundled builds
// ship s3-download.worker.js instead (tools/build/bundle.mjs).
require('tsx/cjs/api').register();
require('./s3-download.worker.ts');

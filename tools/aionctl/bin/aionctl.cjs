#!/usr/bin/env node
// `npx aionctl` from the repository root: runs the TypeScript CLI through tsx (the workspace's
// path aliases come from its tsconfig), so it needs no build step.
const path = require('node:path');
process.env.TSX_TSCONFIG_PATH ??= path.join(__dirname, '..', '..', '..', 'tsconfig.base.json');
require('tsx/cjs');
const { run } = require('../cli.ts');
run(process.argv.slice(2)).then((code) => process.exit(code));

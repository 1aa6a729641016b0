// Every project's integration tests (`test/integration/**/*.int.spec.ts`) in one Jest run, with
// one global setup that provides real PostgreSQL, Redis and Kafka (see libs/testing).
const fs = require('node:fs');
const path = require('node:path');
const { projectConfig } = require('./jest.preset.js');
const { listProjectDirs } = require('./tools/build/projects.cjs');

module.exports = {
  globalSetup: '<rootDir>/libs/testing/src/infra/global-setup.ts',
  globalTeardown: '<rootDir>/libs/testing/src/infra/global-teardown.ts',
  // Integration suites share one set of servers; two workers keep them busy without thrashing 2 cores.
  maxWorkers: 2,
  testTimeout: 60_000,
  projects: listProjectDirs()
    .filter((dir) => fs.existsSync(path.join(dir, 'test', 'integration')))
    .map((dir) => ({
      ...projectConfig(dir, path.basename(dir), 'integration'),
      testTimeout: 60_000,
    })),
};

// Every project's unit tests in one Jest run (`npm run test:unit`).
const fs = require('node:fs');
const { listProjectDirs } = require('./tools/build/projects.cjs');

module.exports = {
  projects: listProjectDirs()
    .map((dir) => `${dir}/jest.config.cjs`)
    .filter((file) => fs.existsSync(file)),
};

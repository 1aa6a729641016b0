// Every project's unit tests in one Jest run (`npm run test:unit`).
const { listProjectDirs } = require('./tools/build/projects.cjs');

module.exports = {
  projects: listProjectDirs().map((dir) => `${dir}/jest.config.cjs`),
};

// Lists the workspace's project directories (apps/* and libs/* that have a project.json).
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

function listProjectDirs() {
  return ['apps', 'libs'].flatMap((group) => {
    const groupDir = path.join(root, group);
    if (!fs.existsSync(groupDir)) return [];
    return fs
      .readdirSync(groupDir)
      .map((name) => path.join(groupDir, name))
      .filter((dir) => fs.existsSync(path.join(dir, 'project.json')));
  });
}

module.exports = { listProjectDirs, root };

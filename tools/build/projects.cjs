// Lists the workspace's project directories (apps/* and libs/* that have a project.json).
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

function listProjectDirs() {
  const e2e = path.join(root, 'e2e');
  const groups = ['apps', 'libs'].flatMap((group) => {
    const groupDir = path.join(root, group);
    if (!fs.existsSync(groupDir)) return [];
    return fs
      .readdirSync(groupDir)
      .map((name) => path.join(groupDir, name))
      .filter((dir) => fs.existsSync(path.join(dir, 'project.json')));
  });
  return fs.existsSync(path.join(e2e, 'project.json')) ? [...groups, e2e] : groups;
}

module.exports = { listProjectDirs, root };

// The image's migration command (/app/tools/migrate.js): libs/db/src/cli.ts, finding the
// migrations under /app/apps/<service>/migrations. The variable is set before the CLI loads,
// because the CLI reads it as it starts.
process.env.AION_REPO_ROOT ??= require('node:path').resolve(__dirname, '..');
require('../../libs/db/src/cli.ts');

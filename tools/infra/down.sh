#!/usr/bin/env bash
# Stops the stack `tools/infra/up.sh` started and removes .infra/. `npm run infra:down` runs this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
exec npx tsx libs/testing/src/infra/cli.ts down

#!/usr/bin/env bash
# Starts a persistent local PostgreSQL, Redis and Kafka (KRaft) under .infra/ for development
# and writes .infra/env with their URLs. `npm run infra:up` runs this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash tools/infra/install.sh
exec npx tsx libs/testing/src/infra/cli.ts up

#!/usr/bin/env bash
# The main job on the embedded default: installs dependencies, builds, and
# runs `dualwrite compare --quick` (a throwaway cluster, a broker per cell),
# which writes compare-quick/report.md, results.json and plots/.
# Extra arguments go to `compare` (e.g. --only 2pc-pg,outbox-cdc); DW_OUT=DIR
# changes the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh default
exec build/cli/dualwrite compare --quick --out "${DW_OUT:-compare-quick}" "$@"

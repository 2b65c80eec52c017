#!/usr/bin/env bash
# The main job on the embedded default: installs dependencies, builds, and
# runs a short end-to-end experiment in a throwaway environment.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh default
exec scripts/smoke.sh "$@"

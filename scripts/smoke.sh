#!/usr/bin/env bash
# A short end-to-end run of what is built, in a throwaway embedded
# environment: up, a 2PC run and an outbox run of the same "place order"
# operation, verify, down. Used by scripts/run.sh until `compare` exists.
set -euo pipefail
cd "$(dirname "$0")/.."
DW=./build/cli/dualwrite
state="${DUALWRITE_STATE_DIR:-./.dualwrite}"
# As root the cluster runs as `postgres`, which must reach the state folder.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$(dirname "$(realpath -m "$state")")"; then
  state="/tmp/dualwrite-run-$(id -u)"
  echo "smoke: the postgres user cannot reach $(pwd); using --state-dir $state"
fi
export DUALWRITE_STATE_DIR="$state"
trap '$DW down --purge >/dev/null 2>&1 || true' EXIT

$DW up
$DW env
if $DW 2pc --help >/dev/null 2>&1; then
  $DW 2pc run --transactions 2000 --concurrency 8
fi
if $DW outbox --help >/dev/null 2>&1; then
  $DW outbox write --transactions 2000 --concurrency 8
  $DW outbox relay --strategy skip-locked --until-drained
fi
$DW verify

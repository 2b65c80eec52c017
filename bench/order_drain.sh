#!/usr/bin/env bash
# The cost of keeping order per key: the drain rate of `outbox relay
# --strategy skip-locked --instances 3 --partition-by key` as a ratio to the
# same relay without --partition-by key, on the same backlog size, in
# alternating pairs on one embedded environment of its own.
#
# Each drain: `outbox write -n ORDERS -c 4 --events-per-order 3` with no
# relay running (a backlog of 3 x ORDERS events), then the relay with
# --until-drained; its own JSON gives the rate (published / elapsed_s).
#
# usage: bench/order_drain.sh [ORDERS (default 10000)] [PAIRS (default 3)] [BATCH (default 100)]
set -euo pipefail
BIN=${DW_BIN:-build/cli/dualwrite}
ORDERS=${1:-10000}
PAIRS=${2:-3}
BATCH=${3:-100}
STATE=$(mktemp -d /tmp/dw-order-drain-XXXXXX)
chmod 755 "$STATE"  # the embedded cluster runs as `postgres` when started by root
"$BIN" up --state-dir "$STATE" >/dev/null
trap '"$BIN" down --purge --state-dir "$STATE" >/dev/null 2>&1 || true' EXIT

rate() {  # the relay's rate_per_s from its JSON
  python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["rate_per_s"])'
}

echo "pair  unpartitioned/s  partitioned/s  ratio"
for i in $(seq "$PAIRS"); do
  rates=()
  for mode in plain part; do
    extra=()
    [ "$mode" = part ] && extra=(--partition-by key)
    "$BIN" --state-dir "$STATE" outbox write -n "$ORDERS" -c 4 --events-per-order 3 --json \
      >/dev/null
    rates+=("$("$BIN" --state-dir "$STATE" outbox relay --strategy skip-locked --instances 3 \
      "${extra[@]}" --batch "$BATCH" --until-drained --no-maintain --json | rate)")
  done
  ratio=$(python3 -c "print('%.2f' % (${rates[1]} / ${rates[0]}))")
  echo "$i     ${rates[0]}            ${rates[1]}           ${ratio}x"
done

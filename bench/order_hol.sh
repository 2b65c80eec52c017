#!/usr/bin/env bash
# Head-of-line blocking: what one poison event holds back, with and without
# `--partition-by key`, for `outbox relay --strategy skip-locked --instances 3`.
#
# The poison is a real one: event 2 of an order in the middle of the backlog
# gets a 2 MiB payload, over the broker's 1 MiB request limit, so every batch
# carrying it is refused (413) and rolled back, and the relay retries it
# forever. Per mode, on an embedded environment of its own:
#   1. `outbox write -n ORDERS -c 4 --events-per-order 3` with no relay
#      running (a backlog of 3 x ORDERS events), then the poison;
#   2. the relay for HOLD_S seconds (--max-run-s): what it delivered, and what
#      is left in the poison's key partition (hashtext(msg_key) & 1023) % 3,
#      in the two others, before the poison, and of the poisoned key after it
#      (its later events: a 0 there means none overtook the poison);
#   3. the row repaired (its payload restored), the relay --until-drained,
#      and `dualwrite verify`: keys reordered.
# Unpartitioned, the poison holds back one batch (the rows claimed with it, of
# unrelated keys) while every later row goes out, so those keys' later events
# overtake their held ones: reordered once repaired. Partitioned, it holds
# back its whole partition from its batch on, and no key is reordered.
#
# usage: bench/order_hol.sh [ORDERS (default 10000)] [HOLD_S (default 5)]
set -euo pipefail
BIN=${DW_BIN:-build/cli/dualwrite}
ORDERS=${1:-10000}
HOLD_S=${2:-5}

json_field() {  # json_field KEY: a top-level number of the JSON on stdin
  python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"
}

ERRS=$(mktemp /tmp/dw-order-hol-errors-XXXXXX)
why=""
printf '%-13s %10s %14s %13s %13s %16s %10s\n' mode delivered \
  "left:poison's" "left:others" "left:before" "key's later left" reordered
for mode in unpartitioned partitioned; do
  STATE=$(mktemp -d /tmp/dw-order-hol-XXXXXX)
  chmod 755 "$STATE"  # the embedded cluster runs as `postgres` when started by root
  "$BIN" up --state-dir "$STATE" >/dev/null
  dw() { "$BIN" --state-dir "$STATE" "$@"; }
  dsn=$(dw env --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dsn"])')
  sql() { psql "$dsn" -qAt -c "$1"; }
  extra=()
  [ "$mode" = partitioned ] && extra=(--partition-by key)

  dw outbox write -n "$ORDERS" -c 4 --events-per-order 3 --json >/dev/null
  poison=$(sql "SELECT id FROM outbox_table WHERE event_id LIKE 'order-%-2'
                ORDER BY id OFFSET $((ORDERS / 2)) LIMIT 1")
  key=$(sql "SELECT msg_key FROM outbox_table WHERE id = $poison")
  sql "CREATE TABLE hol_saved AS SELECT payload FROM outbox_table WHERE id = $poison"
  sql "UPDATE outbox_table SET payload = repeat('x', 2 * 1024 * 1024) WHERE id = $poison"
  part="(hashtext(msg_key) & 1023) % 3 = (hashtext('$key') & 1023) % 3"

  delivered=$(dw outbox relay --strategy skip-locked --instances 3 "${extra[@]}" --batch 100 \
    --max-run-s "$HOLD_S" --no-maintain --json 2>"$ERRS" | json_field published)
  [ -n "$why" ] || why=$(grep -m1 -o 'InvalidArgument.*' "$ERRS" || true)
  left_held=$(sql "SELECT count(*) FROM outbox_table WHERE $part")
  left_others=$(sql "SELECT count(*) FROM outbox_table WHERE NOT ($part)")
  left_before=$(sql "SELECT count(*) FROM outbox_table WHERE id < $poison")
  key_after=$(sql "SELECT count(*) FROM outbox_table WHERE msg_key = '$key' AND id > $poison")

  sql "UPDATE outbox_table SET payload = (SELECT payload FROM hol_saved) WHERE id = $poison"
  dw outbox relay --strategy skip-locked --instances 3 "${extra[@]}" --batch 100 \
    --until-drained --no-maintain --json >/dev/null
  reordered=$(dw verify --json 2>/dev/null | python3 -c \
    'import json,sys; print(len(json.load(sys.stdin)["order_per_key"]["reordered"]))' || true)
  printf '%-13s %10s %14s %13s %13s %16s %10s\n' "$mode" "$delivered" \
    "$left_held" "$left_others" "$left_before" "$key_after of 1" "$reordered"
  "$BIN" down --purge --state-dir "$STATE" >/dev/null 2>&1 || true
done
echo "the relays' error, retried: ${why:-none}"
rm -f "$ERRS"

#!/usr/bin/env bash
# The two table-less relays' drain of a backlog against the raw SQL that
# reads the same events, in alternating pairs on one embedded environment of
# its own:
#
#   pgq    `outbox write --queue pgq -n N` with no relay running (pgqd ticks
#          the backlog into batches as it is written), then `outbox relay
#          --strategy pgq --until-drained`: its own rate (published /
#          elapsed_s of its --json). Raw: a second consumer of the same queue,
#          registered before the writes, reads the same batches in one psql
#          call, `next_batch` -> every row of `get_batch_events` ->
#          `finish_batch` in a PL/pgSQL loop, no publish (timed around psql).
#   emit   `outbox write --emit-message -n N` (pg_logical_emit_message, no
#          row), then `outbox relay --strategy cdc --until-drained`. Raw: a
#          second pgoutput slot, created before the writes, decoded once with
#          pg_logical_slot_get_binary_changes (messages 'true'), the same
#          stream the relay reads, without the publish.
#
# The ratio relay / raw is the figure to quote: both share the machine with
# whatever else runs, and the ratio of two figures of one pair survives it.
#
# usage: bench/log_drain.sh [pgq|emit|both (default both)] [EVENTS (default 100000)] [PAIRS (default 3)]
set -euo pipefail
BIN=${DW_BIN:-build/cli/dualwrite}
WHICH=${1:-both}
EVENTS=${2:-100000}
PAIRS=${3:-3}
case "$WHICH" in pgq | emit | both) ;; *)
  echo "log_drain.sh: want pgq, emit or both, not '$WHICH'" >&2
  exit 2
  ;;
esac
STATE=$(mktemp -d /tmp/dw-log-drain-XXXXXX)
chmod 755 "$STATE" # the embedded cluster runs as `postgres` when started by root
"$BIN" up --state-dir "$STATE" >/dev/null
trap '"$BIN" down --purge --state-dir "$STATE" >/dev/null 2>&1 || true' EXIT
dsn="$("$BIN" env --state-dir "$STATE" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dsn"])')"
dw() { "$BIN" --state-dir "$STATE" "$@"; }
sql() { psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
rate() { python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["rate_per_s"])'; }
secs() { date +%s.%N; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

# One pair: $1 = relay rows/s, $2 = raw rows/s.
report() { echo "$3     $1            $2         $(ratio "$1" "$2")x"; }

if [ "$WHICH" != emit ]; then
  echo "== pgq: $EVENTS events per drain"
  # The queue, its relay consumer and pgqd come with the first write; the
  # raw consumer must exist before the events it is to read.
  dw outbox write --queue pgq -n 1 --json >/dev/null
  dw outbox relay --strategy pgq --until-drained --no-maintain --json >/dev/null
  sql "SELECT pgq.register_consumer('dw_outbox', 'bench_raw')" >/dev/null
  raw_sql="DO \$\$ DECLARE b bigint; n bigint := 0; r record; BEGIN
    LOOP b := pgq.next_batch('dw_outbox', 'bench_raw'); EXIT WHEN b IS NULL;
      FOR r IN SELECT * FROM pgq.get_batch_events(b) LOOP n := n + 1; END LOOP;
      PERFORM pgq.finish_batch(b); END LOOP;
    RAISE NOTICE '%', n; END \$\$"
  sql "$raw_sql" 2>/dev/null # catch up on the first write's event
  echo "pair  relay rows/s  raw rows/s  ratio"
  for i in $(seq "$PAIRS"); do
    dw outbox write --queue pgq -n "$EVENTS" -c 8 --json >/dev/null
    relay=$(dw outbox relay --strategy pgq --until-drained --no-maintain --json | rate)
    t0=$(secs)
    n=$(psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "$raw_sql" 2>&1 | grep -o '[0-9]*$')
    raw=$(python3 -c "print('%.0f' % ($n / ($(secs) - $t0)))")
    [ "$n" -ge "$EVENTS" ] || echo "log_drain.sh: the raw consumer read $n of $EVENTS" >&2
    report "$relay" "$raw" "$i"
  done
fi

if [ "$WHICH" != pgq ]; then
  echo "== emit: $EVENTS events per drain"
  # The relay's slot is made on its first start; messages written before a
  # slot exists never reach it, so both slots come first.
  dw outbox relay --strategy cdc --until-drained --no-maintain --json >/dev/null
  sql "SELECT pg_create_logical_replication_slot('bench_raw', 'pgoutput')" >/dev/null
  raw_sql="SELECT count(*) FROM pg_logical_slot_get_binary_changes('bench_raw', NULL, NULL,
    'proto_version', '1', 'publication_names', 'dw_outbox_pub', 'messages', 'true')"
  echo "pair  relay rows/s  raw rows/s  ratio"
  for i in $(seq "$PAIRS"); do
    dw outbox write --emit-message -n "$EVENTS" -c 8 --json >/dev/null
    relay=$(dw outbox relay --strategy cdc --until-drained --no-maintain --json | rate)
    t0=$(secs)
    sql "$raw_sql" >/dev/null
    raw=$(python3 -c "print('%.0f' % ($EVENTS / ($(secs) - $t0)))")
    report "$relay" "$raw" "$i"
  done
  sql "SELECT pg_drop_replication_slot('bench_raw')" >/dev/null
fi

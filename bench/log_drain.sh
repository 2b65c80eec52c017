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
#          Client: a third consumer, also registered before the writes, runs
#          the same calls from psql, one statement each, and receives every
#          batch's events (the relay's own query and columns) in the client.
#   emit   `outbox write --emit-message -n N` (pg_logical_emit_message, no
#          row), then `outbox relay --strategy cdc --until-drained --batch
#          $EMIT_BATCH` (default 1000: a broker request as large as the pgq
#          relay's, whose ticks hold up to 1000 events). Raw: a
#          second pgoutput slot, created before the writes, decoded once with
#          pg_logical_slot_get_binary_changes (messages 'true'), the same
#          stream the relay reads, without the publish. Client: a third
#          slot, decoded by the same call from psql with every row's data
#          (the pgoutput bytes) transferred to the client.
#
# The ratio relay / raw is the figure to quote: both share the machine with
# whatever else runs, and the ratio of two figures of one pair survives it.
# Two ratios: vs raw (the reads inside the server: what the issue's target
# names) and vs client (the same reads moving every event out of the
# server, which no relay can avoid).
#
# usage: bench/log_drain.sh [pgq|emit|both (default both)] [EVENTS (default 100000)] [PAIRS (default 3)]
#        EMIT_BATCH=N in the environment: the cdc relay's --batch (default 1000)
#        EMIT_RELAY_ARGS: more arguments for the cdc relay (e.g. "--cdc-read sql")
#        DW_BIN: the dualwrite binary of the environment (Postgres, the broker,
#        the writes; default build/cli/dualwrite); DW_RELAY_BIN: the relay's
#        (default DW_BIN), so two relays can be compared against one broker.
set -euo pipefail
BIN=${DW_BIN:-build/cli/dualwrite}
RELAY_BIN=${DW_RELAY_BIN:-$BIN}
WHICH=${1:-both}
EVENTS=${2:-100000}
PAIRS=${3:-3}
EMIT_BATCH=${EMIT_BATCH:-1000}
read -r -a EMIT_RELAY_ARGS <<<"${EMIT_RELAY_ARGS:-}"
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
relay() { "$RELAY_BIN" --state-dir "$STATE" outbox relay "$@"; }
sql() { psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
rate() { python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["rate_per_s"])'; }
secs() { date +%s.%N; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

# One pair: report PAIR RELAY BASELINE... prints the rows/s, then RELAY /
# each baseline.
report() {
  local line="$1    $2" r=$2 b
  shift 2
  for b in "$@"; do line="$line   $b"; done
  for b in "$@"; do line="$line   $(ratio "$r" "$b")x"; done
  echo "$line"
}
# The rows/s of N rows read in the time since T0.
since() { python3 -c "print('%.0f' % ($1 / ($(secs) - $2)))"; }

if [ "$WHICH" != emit ]; then
  echo "== pgq: $EVENTS events per drain"
  # The queue, its relay consumer and pgqd come with the first write; the
  # baseline consumers must exist before the events they are to read.
  dw outbox write --queue pgq -n 1 --json >/dev/null
  dw outbox relay --strategy pgq --until-drained --no-maintain --json >/dev/null
  # How each baseline cuts its batches: per tick (next_batch, the issue's
  # raw reads), or merged as the relay merges them (relay_pgq.h: at least
  # 8,000 events across ticks, else the next tick).
  tick() { echo "pgq.next_batch('dw_outbox', '$1')"; }
  merged() {
    echo "COALESCE((SELECT batch_id FROM pgq.next_batch_custom('dw_outbox', '$1', NULL, 8000, NULL)), pgq.next_batch('dw_outbox', '$1'))"
  }
  # In the server: one psql call, a PL/pgSQL loop; prints the rows read.
  raw_loop() {
    echo "DO \$\$ DECLARE b bigint; n bigint := 0; r record; BEGIN
    LOOP b := $1; EXIT WHEN b IS NULL;
      FOR r IN SELECT * FROM pgq.get_batch_events(b) LOOP n := n + 1; END LOOP;
      PERFORM pgq.finish_batch(b); END LOOP;
    RAISE NOTICE '%', n; END \$\$"
  }
  # To the client: a psql script, one statement per call, each batch's
  # events (the relay's columns) received by psql; as many rounds as the
  # smallest batches could need, quitting at the first NULL batch.
  client_script() {
    for _ in $(seq $((EVENTS / 10 + 100))); do
      cat <<EOF
SELECT b, b IS NOT NULL AS has FROM $1 b \\gset
\\if :has
SELECT ev_id, ev_type, COALESCE(ev_extra1, 'pgq-' || ev_id), COALESCE(ev_extra2, ''), ev_data FROM pgq.get_batch_events(:b) ORDER BY ev_id \\g /dev/null
SELECT pgq.finish_batch(:b) \\g /dev/null
\\else
\\q
\\endif
EOF
    done
  }
  for c in bench_raw bench_rawm bench_client bench_clientm; do
    sql "SELECT pgq.register_consumer('dw_outbox', '$c')" >/dev/null
  done
  raw_sql=$(raw_loop "$(tick bench_raw)")
  rawm_sql=$(raw_loop "$(merged bench_rawm)")
  client_script "$(tick bench_client)" >"$STATE/pgq_client.sql"
  client_script "$(merged bench_clientm)" >"$STATE/pgq_clientm.sql"
  raw() { psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "$1" 2>&1 | grep -o '[0-9]*$'; }
  client() { psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -f "$1" >/dev/null; }
  # Catch up on the first write's event.
  raw "$raw_sql" >/dev/null
  raw "$rawm_sql" >/dev/null
  client "$STATE/pgq_client.sql"
  client "$STATE/pgq_clientm.sql"
  echo "rows/s: relay; raw (per tick, in the server: the issue's), raw merged (the relay's batches, in"
  echo "the server), client (per tick, to psql), client merged (the relay's batches, to psql); then relay / each"
  echo "pair relay   raw   raw-merged   client   client-merged   ratios"
  for i in $(seq "$PAIRS"); do
    dw outbox write --queue pgq -n "$EVENTS" -c 8 --json >/dev/null
    relay=$(relay --strategy pgq --until-drained --no-maintain --json | rate)
    t0=$(secs)
    n=$(raw "$raw_sql")
    raw_rate=$(since "$n" "$t0")
    [ "$n" -ge "$EVENTS" ] || echo "log_drain.sh: the raw consumer read $n of $EVENTS" >&2
    t0=$(secs)
    n=$(raw "$rawm_sql")
    rawm_rate=$(since "$n" "$t0")
    t0=$(secs)
    client "$STATE/pgq_client.sql"
    client_rate=$(since "$n" "$t0")
    t0=$(secs)
    client "$STATE/pgq_clientm.sql"
    clientm_rate=$(since "$n" "$t0")
    for c in bench_client bench_clientm; do
      left=$(sql "SELECT pending_events FROM pgq.get_consumer_info('dw_outbox', '$c')")
      [ "${left:-0}" = 0 ] || echo "log_drain.sh: consumer $c left $left events" >&2
    done
    report "$i" "$relay" "$raw_rate" "$rawm_rate" "$client_rate" "$clientm_rate"
  done
fi

if [ "$WHICH" != pgq ]; then
  echo "== emit: $EVENTS events per drain (relay $RELAY_BIN ${EMIT_RELAY_ARGS[*]})"
  # The relay's slot is made on its first start; messages written before a
  # slot exists never reach it, so both slots come first.
  dw outbox relay --strategy cdc --until-drained --no-maintain --json >/dev/null
  sql "SELECT pg_create_logical_replication_slot('bench_raw', 'pgoutput')" >/dev/null
  sql "SELECT pg_create_logical_replication_slot('bench_client', 'pgoutput')" >/dev/null
  raw_sql="SELECT count(*) FROM pg_logical_slot_get_binary_changes('bench_raw', NULL, NULL,
    'proto_version', '1', 'publication_names', 'dw_outbox_pub', 'messages', 'true')"
  client_sql="SELECT data FROM pg_logical_slot_get_binary_changes('bench_client', NULL, NULL,
    'proto_version', '1', 'publication_names', 'dw_outbox_pub', 'messages', 'true')"
  echo "rows/s: relay; raw (in the server: the issue's); client (the same call, to psql); then relay / each"
  echo "pair relay   raw   client   ratios"
  for i in $(seq "$PAIRS"); do
    dw outbox write --emit-message -n "$EVENTS" -c 8 --json >/dev/null
    relay=$(relay --strategy cdc --until-drained --no-maintain --batch "$EMIT_BATCH" "${EMIT_RELAY_ARGS[@]}" --json | rate)
    t0=$(secs)
    sql "$raw_sql" >/dev/null
    raw=$(python3 -c "print('%.0f' % ($EVENTS / ($(secs) - $t0)))")
    t0=$(secs)
    sql "$client_sql" >/dev/null
    client=$(python3 -c "print('%.0f' % ($EVENTS / ($(secs) - $t0)))")
    report "$i" "$relay" "$raw" "$client"
  done
  sql "SELECT pg_drop_replication_slot('bench_raw')" >/dev/null
  sql "SELECT pg_drop_replication_slot('bench_client')" >/dev/null
fi

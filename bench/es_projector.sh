#!/usr/bin/env bash
# The event-sourcing projector's catch-up rate (`dualwrite es project`)
# against a raw loop of the same rows, in the same run.
#
# A backlog of N OrderPlaced events is written once (`es write`) to a topic
# of its own. Then, K times, alternating:
#   projector  `es project --until-caught-up` from offset 0 into an empty
#              orders table: read 1000 events from the broker, parse them,
#              INSERT ... ON CONFLICT (id) DO NOTHING with parameters, move
#              the offset (compare-and-set), COMMIT; its own rows/s, timed
#              inside the process (start-up excluded);
#   raw loop   the same rows in the same batches of 1000, each one
#              `INSERT INTO es_bench_raw VALUES (...), ... ON CONFLICT (id) DO
#              NOTHING` as its own transaction, sent by psql: what the
#              database work alone costs, without the broker, the JSON and
#              the offset (timed around psql, its start-up included).
# The ratio projector / raw is the figure to quote (both share the machine
# with whatever else runs; the ratio of two figures of one run is what
# survives that). Each rep also prints the CPU each party spent per row
# during the projector's catch-up (every Postgres process of the cluster,
# the broker process, the projector process), which moves much less with
# the machine's load than either rate.
#
# Usage: bench/es_projector.sh [--binary PATH] [--events N] [--reps K]
# Uses the embedded environment of $DUALWRITE_STATE_DIR; it must be up
# (`dualwrite up`). Works in a database of its own, es_bench (recreated).
set -euo pipefail
DW="$(dirname "$0")/../build/cli/dualwrite"
events=100000
reps=3
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) DW="$2"; shift 2 ;;
    --events) events="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    *) echo "es_projector.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done

. "$(dirname "$0")/env_cpu.sh"
env_cpu_init es_projector
field() { grep -o "\"$1\": *\"[^\"]*\"" <<<"$env_json" | head -1 | sed 's/.*: *"\(.*\)"/\1/'; }
base_dsn="$(field dsn)"
broker="$(field broker_url)"
[[ -n "$base_dsn" && -n "$broker" ]] || { echo "es_projector: no dsn / broker_url in 'dualwrite env --json'" >&2; exit 1; }
dsn="$(sed 's/dbname=[^ ]*/dbname=es_bench/' <<<"$base_dsn")"
psql "$base_dsn" -q -c "DROP DATABASE IF EXISTS es_bench WITH (FORCE)" -c "CREATE DATABASE es_bench"
topic="es-bench-$$-$(date +%s)"
dw() { "$DW" --dsn "$dsn" --broker "$broker" "$@"; }
num() { grep -o "\"$1\": *[0-9.e+-]*" | head -1 | sed 's/.*: *//'; }

echo "backlog: es write -n $events -c 16 --topic $topic"
dw es write -n "$events" -c 16 --topic "$topic" --json | tail -1 | num committed | sed 's/^/  acknowledged: /'
psql "$dsn" -q -c "CREATE TABLE es_bench_raw (LIKE orders INCLUDING ALL)"

sql="$(mktemp)"
tm="$(mktemp)"
trap 'rm -f "$sql" "$tm"' EXIT
printf "%-4s %14s %14s %8s   %s\n" rep projector/s raw/s ratio "CPU µs/row: postgres broker projector"
ratios=()
for rep in $(seq 1 "$reps"); do
  psql "$dsn" -q -c "TRUNCATE orders" -c "DELETE FROM es_offsets WHERE projector = 'bench'" 2>/dev/null || true
  pg0=$(pg_ticks); br0=$(ticks "$br_pid")
  p="$(/usr/bin/time -f "%U %S" -o "$tm" "$DW" --dsn "$dsn" --broker "$broker" \
        es project --topic "$topic" --name bench --until-caught-up --json | tail -1)"
  sleep 1  # the projector's backend exits after it does; let the postmaster reap it
  pg1=$(pg_ticks); br1=$(ticks "$br_pid")
  read -r pu ps <"$tm"
  rows=$(num rows <<<"$p")
  [[ "$rows" == "$events" ]] || { echo "es_projector: the projector wrote $rows rows, not $events" >&2; exit 1; }
  proj=$(num rows_per_s <<<"$p")
  if [[ ! -s "$sql" ]]; then
    # The same rows, in the projector's batches of 1000 (by offset order = id order here).
    psql "$dsn" -qAt -c "SELECT 'INSERT INTO es_bench_raw (id, customer, amount_cents) VALUES ' ||
        string_agg(format('(%s,%L,%s)', id, customer, amount_cents), ',' ORDER BY id) ||
        ' ON CONFLICT (id) DO NOTHING;'
      FROM (SELECT *, (row_number() OVER (ORDER BY id) - 1) / 1000 AS b FROM orders) t
      GROUP BY b ORDER BY b" >"$sql"
  fi
  psql "$dsn" -q -c "TRUNCATE es_bench_raw"
  t0=$(date +%s.%N)
  psql "$dsn" -q -v ON_ERROR_STOP=1 -f "$sql" >/dev/null
  t1=$(date +%s.%N)
  raw=$(awk -v n="$events" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  ratio=$(awk -v p="$proj" -v r="$raw" 'BEGIN { printf "%.2f", p / r }')
  ratios+=("$ratio")
  cpu=$(awk -v pg=$((pg1 - pg0)) -v br=$((br1 - br0)) -v u="$pu" -v s="$ps" -v n="$events" -v hz="$hz" \
    'BEGIN { printf "%.1f %.1f %.1f", pg / hz / n * 1e6, br / hz / n * 1e6, (u + s) / n * 1e6 }')
  printf "%-4s %14.0f %14.0f %7sx   %s\n" "$rep" "$proj" "$raw" "$ratio" "$cpu"
done
median=$(printf "%s\n" "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "projector / raw loop: median ${median}x (range $(printf "%s\n" "${ratios[@]}" | sort -n | head -1)x-$(printf "%s\n" "${ratios[@]}" | sort -n | tail -1)x) over $reps runs"
psql "$base_dsn" -q -c "DROP DATABASE IF EXISTS es_bench WITH (FORCE)"

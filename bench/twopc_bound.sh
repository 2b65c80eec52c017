#!/usr/bin/env bash
# 2PC's throughput against the outbox writer's, next to the bound that
# Postgres's own share of 2PC sets in the same run.
#
# On this 2-core machine every party of a load command shares the same two
# cores, so throughput follows total CPU per operation (cpu_per_op.sh). If the
# coordinator and the broker cost nothing, 2PC would still cost Postgres its
# PREPARE TRANSACTION, its COMMIT PREPARED and (with the Postgres decision
# log) the decision rows; the outbox writer costs its one transaction plus its
# own process. The bound is that ratio:
#
#   bound = outbox writer's total CPU per order / 2PC's Postgres CPU per order
#
# what 2PC's throughput ratio would reach with a free coordinator and broker.
# Each round runs, one after the other in one embedded environment, the
# outbox writer and then 2PC with the Postgres decision log, the file log and
# --lrco, each through cpu_per_op.sh, and prints per 2PC variant its
# throughput ratio to that round's writer, the ratio its total CPU predicts,
# and the bound. The last lines give the medians over the rounds.
#
# Usage: bench/twopc_bound.sh [--binary PATH] [--rounds R] [-n ORDERS] [-c C] [--batch K]
#   (defaults: build/cli/dualwrite, 3 rounds, 3000 orders, concurrency 16;
#   --batch K: every 2PC variant drives K orders per thread in lockstep,
#   `2pc run --batch`; with --lrco the one-phase commits are started together)
# Needs the environment of $DUALWRITE_STATE_DIR up (`dualwrite up`). Each
# log kind runs as its own coordinator id, so one log's recovery never meets
# the other's transactions.
set -euo pipefail
here="$(dirname "$0")"
DW="$here/../build/cli/dualwrite"
rounds=3 n=3000 c=16 batch=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) DW="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    -c) c="$2"; shift 2 ;;
    --batch) batch="--batch $2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--rounds R] [-n ORDERS] [-c C] [--batch K]" >&2; exit 2 ;;
  esac
done
[[ -x "$DW" ]] || { echo "twopc_bound: no dualwrite binary at $DW" >&2; exit 1; }
. "$here/env_cpu.sh"
env_cpu_init twopc_bound  # the environment must be up before the first round

variants=("2pc-pg|2pc run --coordinator-id bound-pg $batch"
          "2pc-file|2pc run --log file --coordinator-id bound-file $batch"
          "2pc-lrco|2pc run --lrco --coordinator-id bound-lrco $batch")
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT

# "NAME ops pg broker load total" from one cpu_per_op.sh line.
measure() {
  local name="$1"; shift
  local line
  line="$("$here/cpu_per_op.sh" --binary "$DW" -- "$@" -n "$n" -c "$c")" || return 1
  echo "  $line" >&2
  awk -v name="$name" -F'|' '{
    ops = $2 + 0; k = split($3, f, " +")
    for (i = 1; i < k; i++) v[f[i]] = f[i + 1]
    print name, ops, v["postgres"], v["broker"], v["load"], v["total"] }' <<<"$line"
}

echo "# $(date -u +%FT%TZ) twopc_bound: $rounds rounds, -n $n -c $c${batch:+, $batch}, binary $DW"
printf '%-5s %-9s %8s %9s %10s %8s\n' round variant "ops/s" "ops ratio" "CPU ratio" bound
for ((r = 1; r <= rounds; r++)); do
  read -r _ wops _ _ _ wtotal < <(measure outbox outbox write) ||
    { echo "twopc_bound: 'outbox write' failed (its error is above)" >&2; exit 1; }
  for v in "${variants[@]}"; do
    name="${v%%|*}"
    read -r -a cmd <<<"${v#*|}"
    read -r _ ops pg _ _ total < <(measure "$name" "${cmd[@]}") ||
      { echo "twopc_bound: '${cmd[*]}' failed (its error is above)" >&2; exit 1; }
    awk -v r="$r" -v name="$name" -v ops="$ops" -v wops="$wops" -v wt="$wtotal" -v t="$total" \
        -v pg="$pg" 'BEGIN { printf "%-5s %-9s %8.0f %9.2f %10.2f %8.2f\n",
                               r, name, ops, ops / wops, wt / t, wt / pg }' | tee -a "$rows"
  done
done
echo "# medians over $rounds rounds (ops ratio, CPU ratio, bound)"
for v in "${variants[@]}"; do
  name="${v%%|*}"
  awk -v name="$name" '$2 == name { o[++k] = $4; cr[k] = $5; b[k] = $6 }
    function med(a, k,   i, j, t) {
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
    END { printf "%-9s ops ratio %.2f  CPU ratio %.2f  bound %.2f\n", name, med(o, k), med(cr, k), med(b, k) }' "$rows"
done

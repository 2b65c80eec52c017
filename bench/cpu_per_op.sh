#!/usr/bin/env bash
# CPU time per operation, per party, of one dualwrite load command.
#
# Throughput on this 2-core machine is set by CPU, and the coordinator, the
# broker and Postgres share those two cores: 2PC's throughput ratio to the
# outbox is bounded by the ratio of their CPU per operation. Unlike a
# throughput figure, CPU per operation barely moves when other work shares
# the machine, so it is the number to compare across runs and commits.
#
# Usage: bench/cpu_per_op.sh [--binary PATH] -- LOAD COMMAND ARGS...
#   e.g. bench/cpu_per_op.sh -- 2pc run -n 4000 -c 16
# Uses the embedded environment of $DUALWRITE_STATE_DIR (or --state-dir in
# the command); it must be up (`dualwrite up`). Prints one line:
#   command | ops/s | CPU µs/op: postgres broker load total
# postgres = every postgres process of the cluster (exited backends through
# the postmaster's children times), broker = the broker process, load = the
# load command itself (coordinator / writer), from /proc and getrusage.
set -euo pipefail
DW="$(dirname "$0")/../build/cli/dualwrite"
if [[ "${1:-}" == "--binary" ]]; then DW="$2"; shift 2; fi
[[ "${1:-}" == "--" ]] && shift
[[ $# -gt 0 ]] || { echo "usage: $0 [--binary PATH] -- LOAD COMMAND ARGS..." >&2; exit 2; }

env_json="$("$DW" env --json 2>/dev/null)" || { echo "cpu_per_op: no embedded environment (run dualwrite up)" >&2; exit 1; }
num() { grep -o "\"$1\": *[0-9]*" <<<"$env_json" | head -1 | grep -o '[0-9]*$'; }
pm_pid="$(num postgres_pid)"
br_pid="$(num broker_pid)"
[[ -n "$pm_pid" && -n "$br_pid" ]] || { echo "cpu_per_op: cannot find the postgres/broker pids in 'dualwrite env --json'" >&2; exit 1; }

# utime+stime of a process (+ its reaped children when $2 = all), in ticks
ticks() { awk -v all="${2:-}" '{ t = $14 + $15; if (all == "all") t += $16 + $17; print t }' "/proc/$1/stat"; }
pg_ticks() {
  local s; s=$(ticks "$pm_pid" all)
  for p in $(pgrep -P "$pm_pid"); do s=$((s + $(ticks "$p" 2>/dev/null || echo 0))); done
  echo "$s"
}
hz=$(getconf CLK_TCK)
pg0=$(pg_ticks); br0=$(ticks "$br_pid")
out="$(mktemp)"; tm="$(mktemp)"
trap 'rm -f "$out" "$tm"' EXIT
/usr/bin/time -f "%U %S" -o "$tm" "$DW" "$@" --json >"$out"
sleep 1  # the command's backends exit after it does; let the postmaster reap them
pg1=$(pg_ticks); br1=$(ticks "$br_pid")
read -r lu ls <"$tm"
json="$(tail -1 "$out")"
field() { grep -o "\"$1\": *[0-9.]*" <<<"$json" | head -1 | grep -o '[0-9.]*$'; }
ops=$(( $(field committed) + $(field aborted) + $(field failed) ))
awk -v cmd="$*" -v thr="$(field throughput_per_s)" -v ops="$ops" -v hz="$hz" \
    -v pg=$((pg1 - pg0)) -v br=$((br1 - br0)) -v lu="$lu" -v ls="$ls" 'BEGIN {
  pgu = pg / hz / ops * 1e6; bru = br / hz / ops * 1e6; ldu = (lu + ls) / ops * 1e6
  printf "%-40s | %6.0f ops/s | CPU us/op: postgres %4.0f  broker %4.0f  load %4.0f  total %4.0f\n",
         cmd, thr, pgu, bru, ldu, pgu + bru + ldu }'

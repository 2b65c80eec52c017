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

. "$(dirname "$0")/env_cpu.sh"
env_cpu_init cpu_per_op
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

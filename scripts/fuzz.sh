#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, a separate CMake project compiled with
# clang++ and ASan+UBSan) into build-fuzz/ and runs every target for SECONDS
# (default 60), side by side, from its seed corpus. Fails on any crash, leak, UB, timeout
# or out-of-memory; the reproducer is left in build-fuzz/artifacts/.
#
#   scripts/fuzz.sh [SECONDS]
# Environment: CXX (default clang++-14).
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]   (a positive whole number, default 60)" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
cxx="${CXX:-clang++-14}"
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-14)" >&2; exit 1; }

cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2

targets=(broker_router_fuzz log_replay_fuzz)
mkdir -p "$build/artifacts"
# The targets run side by side, one per core (libFuzzer's default is one
# single-threaded job): the wall time is SECONDS, not SECONDS per target.
pids=()
for t in "${targets[@]}"; do
  name="${t%_fuzz}"
  seeds="$root/fuzz/corpus/$name"
  # New inputs go to a working corpus in the build dir; the repo keeps only
  # the hand-made seeds.
  work="$build/corpus/$name"
  mkdir -p "$work"
  echo "== $t: ${seconds}s from $seeds"
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb: a leak or
  # an unbounded allocation is a finding, not a swap storm.
  "$build/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name-" "$work" "$seeds" >"$build/$t.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!targets[@]}"; do
  t="${targets[$i]}"
  name="${t%_fuzz}"
  log="$build/$t.log"
  rc=0
  wait "${pids[$i]}" || rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  echo "   $t: exit $rc, ${runs:-?} executions, corpus $(ls "$build/corpus/$name" | wc -l) inputs, log $log"
  if [ "$rc" -ne 0 ]; then
    failed=1
    grep -E 'ERROR|invariant violated|SUMMARY|Test unit written' "$log" | head -20 || true
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: FAILED (reproduce: build-fuzz/<target> build-fuzz/artifacts/<file>)" >&2
  exit 1
fi
echo "fuzz.sh: all targets ran ${seconds}s without a finding"

#!/usr/bin/env bash
# The foundation benchmarks: builds them and runs
#   bench/broker_bench          the broker per fsync policy vs loopback HTTP + fdatasync
#   bench/pg_participant_bench  PREPARE + COMMIT PREPARED vs a plain commit
# Each prints its table to the console and writes JSON to
# bench/results/<name>.json (its console output also goes to <name>.txt);
# the machine line goes to bench/results/machine.txt. See bench/README.md.
#
#   scripts/bench.sh                       build/ (the default preset) and run both
#   scripts/bench.sh --build-dir build-x   another build folder (RelWithDebInfo)
#   scripts/bench.sh --only broker_bench   one of the two
#   scripts/bench.sh -- --benchmark_filter=publish   extra Google Benchmark flags
#
# Postgres: the embedded environment, brought up in a fresh /tmp folder by
# pg_participant_bench and removed at the end (or $DW_BENCH_DSN, untouched).
# Runs in about 2.5-3 minutes on 2 cores, build excluded.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
only=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  if [ "$build_dir" = build ]; then
    cmake --preset default >/dev/null
  else
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
fi
cmake --build "$build_dir" -j"$(nproc)" --target dualwrite broker_bench pg_participant_bench

mkdir -p bench/results

# The machine line: the numbers mean nothing without it.
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "postgres: $("$pg_bin/postgres" --version 2>/dev/null || echo unknown)"
  echo "kernel: $(uname -r); /tmp on $(df -T /tmp | awk 'NR==2 {print $2 " (" $1 ")"}')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + local changes')"
} | tee bench/results/machine.txt

# pg_participant_bench brings the environment up itself; the folder is made
# here so that an interrupted run can still be taken down.
state_dir=""
cleanup() {
  if [ -n "$state_dir" ] && [ -d "$state_dir" ]; then
    "$build_dir/cli/dualwrite" down --purge --state-dir "$state_dir" >/dev/null 2>&1 || true
    rm -rf "$state_dir"
  fi
}
trap cleanup EXIT

# Repetitions in random interleaving: the disk and CPUs are shared, and slow
# phases of the machine then hit every benchmark alike; the summaries use the
# median over the repetitions.
common=(--benchmark_format=console --benchmark_color=false --benchmark_out_format=json
  --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true)

run() {
  local name="$1"; shift
  echo
  echo "== $name"
  "$build_dir/bench/$name" "${common[@]}" --benchmark_out="bench/results/$name.json" "$@" \
    "${extra[@]}" 2>&1 | tee "bench/results/$name.txt"
}

if [ -z "$only" ] || [ "$only" = broker_bench ]; then
  run broker_bench --benchmark_min_time=0.5
fi
if [ -z "$only" ] || [ "$only" = pg_participant_bench ]; then
  if [ -z "${DW_BENCH_DSN:-}" ]; then
    state_dir="$(mktemp -d /tmp/dw-bench-env-XXXXXX)"
    chmod 755 "$state_dir"  # the postgres OS user must reach it when run as root
    export DW_BENCH_STATE_DIR="$state_dir"
  fi
  run pg_participant_bench --benchmark_min_time=1
fi

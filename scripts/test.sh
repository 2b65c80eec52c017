#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs the whole ctest
# suite against a real Postgres cluster and real broker processes (the
# suite's `env_up` fixture starts an embedded environment, `env_down` removes
# it; tests that crash things start their own broker processes).
#
#   scripts/test.sh                 everything, in the size CI runs, then each
#                                   fuzz target for DW_FUZZ_SECONDS (default 60, 0 = skip)
#                                   and scripts/sanitize-quick.sh asan, then tsan
#                                   (DW_SANITIZE_QUICK=0 skips both)
#   scripts/test.sh --preset asan   the same under ASan+UBSan (or tsan)
#   scripts/test.sh -L broker       extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
preset=default
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
# Each phase ends with one line saying how long it took (CI's log shows
# where its time goes).
phase_start=$SECONDS
phase_done() {
  echo "test.sh: $1 took $((SECONDS - phase_start)) s"
  phase_start=$SECONDS
}
scripts/install-deps.sh
phase_done "install-deps"
scripts/build.sh "$preset"
phase_done "build ($preset)"
# The test preset of the same name (CMakePresets.json) also sets the
# sanitizers' options (UBSan halts on the first error, ASan checks leaks).
ctest --preset "$preset" --output-on-failure -j2 --timeout 600 "${args[@]}"
phase_done "ctest"
# The whole suite (no ctest arguments) also runs each libFuzzer target for a
# bounded time, DW_FUZZ_SECONDS each (default 60; 0 skips): the broker's
# request handling and the log replay (fuzz/README.md).
fuzz_seconds="${DW_FUZZ_SECONDS:-60}"
if [ ${#args[@]} -eq 0 ] && [ "$fuzz_seconds" != 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
  phase_done "fuzz"
fi
# ... and the quick sanitizer size: the in-process test programs under
# ASan + UBSan, then under TSan (DW_SANITIZE_QUICK=0 skips both; the whole
# suite under a sanitizer is --preset asan|tsan).
if [ ${#args[@]} -eq 0 ] && [ "$preset" = default ] && [ "${DW_SANITIZE_QUICK:-1}" != 0 ]; then
  scripts/sanitize-quick.sh asan
  phase_done "sanitize-quick asan"
  scripts/sanitize-quick.sh tsan
  phase_done "sanitize-quick tsan"
fi

#!/usr/bin/env bash
# The quick sanitizer size CI runs (scripts/test.sh calls it for asan, then
# tsan, after the suite): builds the test programs that need neither
# Postgres nor a broker process nor the dualwrite binary (dw_add_test ...
# IN_PROCESS, so only the libraries they link are built) under a sanitizer
# preset and runs them with that preset's options. They cover the threaded
# and parsing cores: the broker's store and writer, the coordinator's call
# pool, group commit and decision logs, its protocol and recovery against
# fake participants, RecordFile under injected file faults, the outbox's pure
# parts and its relays' settle logic against a fake publisher, the
# participants' clients' input handling, the report renderer. The broker's
# HTTP handling and log replay are covered under ASan + UBSan by the fuzzers
# CI also runs. The whole suite under a sanitizer is
# `scripts/test.sh --preset asan|tsan` (docs/RELIABILITY.md records runs).
#
#   scripts/sanitize-quick.sh [asan|tsan]     (default asan: ASan + UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-asan}"
case "$preset" in
  asan)
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
    ;;
  tsan) export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" ;;
  *) echo "usage: scripts/sanitize-quick.sh [asan|tsan]" >&2; exit 2 ;;
esac
tests=(common_test broker_core_test record_file_fault_test coordinator_unit_test
       coordinator_fake_test outbox_unit_test outbox_fake_test participants_unit_test
       compare_report_test compare_plots_test workload_stock_unit_test workload_load_runner_test)
# The sanitizer presets build in unity batches (each header parsed once per
# batch of sources: about 0.6x the compile CPU of file by file here) and with
# Ninja, which compiles a target's objects while the libraries it links are
# still being built; Make orders them after, and with a few large batches per
# library it kept only 1.2 of the 2 cores busy. A folder configured earlier
# with another generator is a throwaway build that CMake refuses to
# reconfigure, so it is removed first.
if [ -f "build-$preset/CMakeCache.txt" ] &&
   ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "build-$preset/CMakeCache.txt"; then
  rm -rf "build-$preset"
fi
cmake --preset "$preset" >/dev/null
cmake --build "build-$preset" -j2 --target "${tests[@]}"
failed=0
for t in "${tests[@]}"; do
  if "build-$preset/tests/$t" >"build-$preset/$t.out" 2>&1; then
    echo "sanitize-quick ($preset): $t passed"
  else
    echo "sanitize-quick ($preset): $t FAILED" >&2
    tail -40 "build-$preset/$t.out" >&2
    failed=1
  fi
done
exit "$failed"

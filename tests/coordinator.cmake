# Tests of the two-phase-commit coordinator (issue 3).
dw_add_test(coordinator_unit_test SOURCES coordinator_unit_test.cc LIBS dw_coordinator
  LABELS coordinator unit IN_PROCESS)
# Scratch database per test in the shared cluster + a broker process per test.
dw_add_test(coordinator_test SOURCES coordinator_test.cc LIBS dw_coordinator
  NEEDS_ENV LABELS coordinator TIMEOUT 300)
# A cluster of its own (it is stopped with -m immediate) + its own broker.
dw_add_test(coordinator_restart_test SOURCES coordinator_restart_test.cc LIBS dw_coordinator dw_env
  LABELS coordinator TIMEOUT 300)
# Larger variants, excluded from quick runs with `ctest -LE slow`.
dw_add_test(coordinator_slow_test SOURCES coordinator_slow_test.cc LIBS dw_coordinator
  NEEDS_ENV LABELS coordinator slow TIMEOUT 900)

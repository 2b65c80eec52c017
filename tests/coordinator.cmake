# Tests of the two-phase-commit coordinator.
dw_add_test(coordinator_unit_test SOURCES coordinator_unit_test.cc LIBS dw_coordinator
  LABELS coordinator unit IN_PROCESS)
# The protocol and recovery against scripted participants and an in-memory
# decision log (tests/support/fake_participant.h, memory_decision_log.h).
dw_add_test(coordinator_fake_test SOURCES coordinator_fake_test.cc support/fake_participant.cc
  support/memory_decision_log.cc LIBS dw_coordinator LABELS coordinator unit IN_PROCESS)
# Scratch database per test in the shared cluster + a broker process per test.
dw_add_test(coordinator_test SOURCES coordinator_test.cc LIBS dw_coordinator
  NEEDS_ENV LABELS coordinator TIMEOUT 300)
# A cluster of its own (it is stopped with -m immediate) + its own broker.
dw_add_test(coordinator_restart_test SOURCES coordinator_restart_test.cc LIBS dw_coordinator dw_env
  LABELS coordinator TIMEOUT 300)
# Larger variants, excluded from quick runs with `ctest -LE slow`.
dw_add_test(coordinator_slow_test SOURCES coordinator_slow_test.cc LIBS dw_coordinator
  NEEDS_ENV LABELS coordinator slow TIMEOUT 900)
# Events 2..E under 2PC: an event whose order is not at version n-1 is aborted, not published.
dw_add_test(coordinator_order_events_test SOURCES coordinator_order_events_test.cc
  LIBS dw_coordinator NEEDS_ENV LABELS coordinator ordering TIMEOUT 300)

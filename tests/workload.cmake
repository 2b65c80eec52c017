# Tests of the shared workload's contention knobs (`--hot-rows`, `--hot-skew`,
# workload/stock.h).
# The product draw, the setting's checks and where 2PC puts the reservation, in process.
dw_add_test(workload_stock_unit_test SOURCES workload_stock_unit_test.cc LIBS dw_coordinator
  LABELS unit IN_PROCESS)
# Every load command with the flags: the real binary, a scratch database of the
# shared cluster and a broker process per test (the crash test's prepared
# transaction is recovered, or rolled back by the fixture, before it ends).
dw_add_test(workload_hot_rows_test SOURCES workload_hot_rows_test.cc LIBS dw_coordinator
  NEEDS_ENV LABELS coordinator outbox TIMEOUT 300)
# Order per key in process: numbered events of an order and verify's order check.
dw_add_test(workload_order_unit_test SOURCES workload_order_unit_test.cc LIBS dw_coordinator
  LABELS unit ordering IN_PROCESS)
# LoadRunner's stopping rules (count, duration, --min-transactions), in process.
dw_add_test(workload_load_runner_test SOURCES workload_load_runner_test.cc LIBS dw_workload
  LABELS unit IN_PROCESS)

# Tests of the transactional outbox. The database tests use a
# scratch database of the outbox's own test cluster (ENV outbox: see
# tests/CMakeLists.txt for why) and a broker process of their own per test.
dw_add_test(outbox_unit_test SOURCES outbox_unit_test.cc LIBS dw_outbox LABELS outbox unit IN_PROCESS)
# The relays' settle logic against a fake publisher (tests/support/fake_publisher.h).
dw_add_test(outbox_fake_test SOURCES outbox_fake_test.cc support/fake_publisher.cc LIBS dw_outbox
  LABELS outbox unit IN_PROCESS)
dw_add_test(outbox_relay_test SOURCES outbox_relay_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox TIMEOUT 300)
# The same end-to-end runs with 10,000 orders.
dw_add_test(outbox_relay_slow_test SOURCES outbox_relay_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox slow TIMEOUT 900)
target_compile_definitions(outbox_relay_slow_test PRIVATE DW_OUTBOX_ORDERS=10000)
dw_add_test(outbox_offset_test SOURCES outbox_offset_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox TIMEOUT 300)
dw_add_test(outbox_faults_test SOURCES outbox_faults_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox TIMEOUT 300)
dw_add_test(outbox_partitions_test SOURCES outbox_partitions_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox TIMEOUT 300)
# pg_partman as the partitioner (skips only when the server lacks the extension).
dw_add_test(outbox_partman_test SOURCES outbox_partman_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox TIMEOUT 300)
# PgQ as the outbox: a real pgqd per test (env/pgqd_daemon.h); needs the
# postgresql-15-pgq3 and pgqd packages (scripts/install-deps.sh).
dw_add_test(outbox_pgq_test SOURCES outbox_pgq_test.cc LIBS dw_outbox dw_env
  NEEDS_ENV ENV outbox LABELS outbox pgq TIMEOUT 300)
# Order per key: 2,000 orders x 3 events; skip-locked K=3 reorders a key under
# a forced interleaving, --partition-by key does not (also across a relay
# SIGKILL and a 5 s broker outage), offset-safe and cdc keep order.
# The cdc relay reading its slot with SQL (--cdc-read sql) over the emit
# outbox: 10,000 orders in commit order, a SIGKILL mid-chunk, commit order.
dw_add_test(outbox_emit_sql_test SOURCES outbox_emit_sql_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox TIMEOUT 300)
dw_add_test(outbox_ordering_test SOURCES outbox_ordering_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox ordering TIMEOUT 300)
# The pipelined skip-locked relay (--pipeline) under a publisher failing every
# k-th publish: every row arrives, each key in order.
dw_add_test(outbox_pipeline_test SOURCES outbox_pipeline_test.cc LIBS dw_outbox
  NEEDS_ENV ENV outbox LABELS outbox TIMEOUT 300)

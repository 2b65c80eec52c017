# Event sourcing, broker first (`es write`, `es project`): the real binary, a
# scratch database of the shared cluster and a topic of the shared broker per test.
dw_add_test(es_test SOURCES es_test.cc LIBS dw_workload dw_participants NEEDS_ENV
  LABELS es TIMEOUT 300)
# Several events per order (`es write --events-per-order E`): the projector's
# UPDATEs of the read model, in version order and never backwards.
dw_add_test(es_order_events_test SOURCES es_order_events_test.cc LIBS dw_workload dw_participants
  NEEDS_ENV LABELS es ordering TIMEOUT 300)

# Tests of the orchestrated saga (saga/). A scratch database of the shared
# cluster and a broker process of its own per test (its faults are changed
# at run time); the crash tests SIGKILL the real `dualwrite saga run`.
dw_add_test(saga_test SOURCES saga_test.cc LIBS dw_saga NEEDS_ENV LABELS saga TIMEOUT 300)

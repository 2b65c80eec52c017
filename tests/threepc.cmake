# Tests of three-phase commit (threepc/): Skeen's termination rule, and each
# participant's durable 3PC state against the shared cluster (a scratch
# database) and the shared broker (gids of their own).
dw_add_test(threepc_test SOURCES threepc_test.cc LIBS dw_threepc NEEDS_ENV LABELS threepc
  TIMEOUT 120)

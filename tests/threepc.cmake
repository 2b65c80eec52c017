# Tests of three-phase commit (threepc/): Skeen's termination rule, and each
# participant's durable 3PC state against the shared cluster (a scratch
# database) and the shared broker (gids of their own).
dw_add_test(threepc_test SOURCES threepc_test.cc LIBS dw_threepc NEEDS_ENV LABELS threepc
  TIMEOUT 120)

# The agent's logic in-process: two agents over in-memory participants,
# linked through their request handlers.
dw_add_test(threepc_agent_unit_test SOURCES threepc_agent_unit_test.cc support/fake_participant.cc
  LIBS dw_threepc LABELS threepc IN_PROCESS TIMEOUT 60)

# Tests of three-phase commit (threepc/): Skeen's termination rule, and each
# participant's durable 3PC state against the shared cluster (a scratch
# database) and the shared broker (gids of their own).
dw_add_test(threepc_test SOURCES threepc_test.cc LIBS dw_threepc NEEDS_ENV LABELS threepc
  TIMEOUT 120)

# Three-phase commit as processes: `3pc run` (the coordinator) and `3pc
# agent` (the participants' agents, the termination protocol) against a
# scratch database and a broker process of the test's own; fault proxies
# between the agents for the partition.
dw_add_test(threepc_agent_test SOURCES threepc_agent_test.cc LIBS dw_env dw_participants
  dw_workload dw_proxy NEEDS_ENV LABELS threepc TIMEOUT 120)

# The agent's logic in-process: two agents over in-memory participants,
# linked through their request handlers.
dw_add_test(threepc_agent_unit_test SOURCES threepc_agent_unit_test.cc support/fake_participant.cc
  LIBS dw_threepc LABELS threepc IN_PROCESS TIMEOUT 60)

# Several events per order (`3pc run --events-per-order E`): each event its
# own 3PC transaction through the agents; one whose order is not at the
# version before is voted down and never published.
dw_add_test(threepc_order_events_test SOURCES threepc_order_events_test.cc LIBS dw_threepc dw_env
  dw_participants dw_workload dw_proxy NEEDS_ENV LABELS threepc ordering TIMEOUT 300)

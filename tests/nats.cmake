# NATS JetStream as the outbox's sink: real nats-server processes (one per
# test, plus the state folder's in the daemon test) and the outbox suites'
# scratch databases; nats_strategies_test.cc runs every no-loss relay
# strategy into it, nats_follower_test.cc the consumer compare's e2e tail
# reads with (jetstream/follower.h). Needs the nats-server and libnats-dev
# packages (scripts/install-deps.sh).
dw_add_test(nats_test SOURCES nats_test.cc nats_strategies_test.cc nats_follower_test.cc
  LIBS dw_outbox dw_env dw_jetstream dw_compare
  NEEDS_ENV ENV outbox LABELS nats TIMEOUT 300)

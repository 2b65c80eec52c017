# RabbitMQ as the outbox's sink: rabbitmq-server as a managed process of
# the state folder (`up --sinks rabbitmq`, `down`, `env`), and the relay and
# verify tests on the outbox suites' scratch databases (every no-loss relay
# strategy into it: rabbitmq_strategies_test.cc; the consumer compare's e2e
# tail reads with, rabbitmq/follower.h: rabbitmq_follower_test.cc). Needs
# the rabbitmq-server and librabbitmq-dev packages (scripts/install-deps.sh).
#
# A node takes 8 s or more to start, and ctest runs every test in a process
# of its own: the relay tests share one node, the outbox environment's,
# started by the setup test rabbitmq_up_outbox and stopped with the rest of
# that environment by env_down_outbox.
dw_add_test(rabbitmq_test SOURCES rabbitmq_test.cc rabbitmq_strategies_test.cc rabbitmq_follower_test.cc
  LIBS dw_outbox dw_env dw_rabbitmq
  NEEDS_ENV ENV outbox LABELS rabbitmq TIMEOUT 300)
add_test(NAME rabbitmq_up_outbox
  COMMAND dualwrite up --sinks rabbitmq --state-dir /tmp/dw-test-env-${_dw_build_hash}_outbox)
set_tests_properties(rabbitmq_up_outbox PROPERTIES FIXTURES_REQUIRED dwenv_outbox
  FIXTURES_SETUP dwrabbitmq_outbox LABELS rabbitmq TIMEOUT 180)
# Set apart, after the discovered tests were added (a list in
# gtest_discover_tests' PROPERTIES would be split). One at a time: they share
# the node's `orders` queue, which each deletes first, and one SIGKILLs the node.
set(_dw_rabbitmq_fixtures "${CMAKE_CURRENT_BINARY_DIR}/rabbitmq_test_fixtures.cmake")
file(WRITE "${_dw_rabbitmq_fixtures}"
  "if(rabbitmq_test_TESTS)\n  set_tests_properties(\${rabbitmq_test_TESTS} PROPERTIES FIXTURES_REQUIRED \"dwenv_outbox;dwrabbitmq_outbox\" RESOURCE_LOCK dw_rabbitmq_outbox)\nendif()\n")
set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_dw_rabbitmq_fixtures}")

# `dualwrite demo LESSON`: every lesson runs non-interactively
# through the real binary and its lesson is asserted from its --result facts.
# A cluster of its own (ENV demo): the lessons hold prepared transactions and
# replication slots on purpose, which would stall other suites' offset-safe
# and cdc relays (cluster-wide xmin), and vice versa. The lessons take turns
# (RESOURCE_LOCK) for the same reason.
dw_add_test(demo_test SOURCES demo_test.cc LIBS dw_common nlohmann_json::nlohmann_json
  NEEDS_ENV ENV demo LABELS demo TIMEOUT 180)
set(_dw_demo_lock_file "${CMAKE_CURRENT_BINARY_DIR}/demo_test_lock.cmake")
file(WRITE "${_dw_demo_lock_file}"
  "if(demo_test_TESTS)\n  set_tests_properties(\${demo_test_TESTS} PROPERTIES RESOURCE_LOCK dw_demo_cluster)\nendif()\n"
  # The real-broker lesson starts nats-server and rabbitmq-server: labelled
  # like the nats and rabbitmq suites, so `-LE 'nats|rabbitmq'` leaves it out.
  "list(FIND demo_test_TESTS Demo.RealBrokerJetStreamDropsTheRepublishedBatchRabbitmqInboxAbsorbsIt _dw_i)\n"
  "if(NOT _dw_i EQUAL -1)\n  set_tests_properties(Demo.RealBrokerJetStreamDropsTheRepublishedBatchRabbitmqInboxAbsorbsIt PROPERTIES LABELS \"demo;nats;rabbitmq\")\nendif()\n")
set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_dw_demo_lock_file}")

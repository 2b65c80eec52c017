# Tests of `dualwrite compare`. The renderer (report.md and plots from
# results.json) needs no environment: it reads a hand-written fixture.
dw_add_test(compare_report_test SOURCES compare_report_test.cc LIBS dw_compare_render
  nlohmann_json::nlohmann_json LABELS unit TIMEOUT 120 IN_PROCESS)
target_compile_definitions(compare_report_test PRIVATE
  DW_COMPARE_FIXTURE="${CMAKE_CURRENT_SOURCE_DIR}/data/compare_fixture.json"
  DW_COMPARE_FIXTURE_V2="${CMAKE_CURRENT_SOURCE_DIR}/data/compare_fixture_v2.json")

# Every plot's data blocks hold the series its script's titles name, for the
# fixtures and the committed full run.
dw_add_test(compare_plots_test SOURCES compare_plots_test.cc LIBS dw_compare_render
  nlohmann_json::nlohmann_json LABELS unit TIMEOUT 120 IN_PROCESS)
target_compile_definitions(compare_plots_test PRIVATE
  DW_COMPARE_FIXTURE="${CMAKE_CURRENT_SOURCE_DIR}/data/compare_fixture.json"
  DW_COMPARE_FIXTURE_V2="${CMAKE_CURRENT_SOURCE_DIR}/data/compare_fixture_v2.json"
  DW_COMPARE_FULL_RUN="${CMAKE_SOURCE_DIR}/docs/results/full/results.json")

# The main job end to end at its smallest size (--quick --smoke): its own
# throwaway cluster, a broker per cell, every approach and the failure matrix.
dw_add_test(compare_smoke_test SOURCES compare_smoke_test.cc LIBS dw_common
  nlohmann_json::nlohmann_json LABELS slow compare TIMEOUT 900)

# The randomized crash campaign in its CI size (docs/RELIABILITY.md has a 200-run campaign).
dw_add_test(chaos_test SOURCES chaos_test.cc LIBS dw_common nlohmann_json::nlohmann_json
  LABELS slow chaos TIMEOUT 900)
# The campaign against a real nats-server (--sink nats): a few seeded runs,
# and a CDC slot's replay within and past JetStream's duplicate window; the
# replay on RabbitMQ too (its own labels, set apart as compare_sink_test's).
# Needs the server packages (scripts/install-deps.sh).
dw_add_test(chaos_sink_test SOURCES chaos_sink_test.cc LIBS dw_common
  nlohmann_json::nlohmann_json LABELS slow chaos nats TIMEOUT 600)
set(_dw_chaos_sink_labels "${CMAKE_CURRENT_BINARY_DIR}/chaos_sink_test_rabbitmq.cmake")
file(WRITE "${_dw_chaos_sink_labels}"
  "if(chaos_sink_test_TESTS)\n  set_tests_properties(ChaosSink.RabbitmqReplayDeliversDuplicates PROPERTIES LABELS \"slow;chaos;rabbitmq\")\nendif()\n")
set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_dw_chaos_sink_labels}")

# Repeated load cells: medians, ranges, sustained only when every run was.
dw_add_test(compare_merge_test SOURCES compare_merge_test.cc LIBS dw_compare
  nlohmann_json::nlohmann_json LABELS unit compare TIMEOUT 60 IN_PROCESS)

# The typed results (compare/results.h): every committed run and the fixtures
# read into them and write back as the same JSON, and render the same report.
dw_add_test(compare_results_test SOURCES compare_results_test.cc LIBS dw_compare_render
  nlohmann_json::nlohmann_json LABELS unit compare TIMEOUT 120 IN_PROCESS)
target_compile_definitions(compare_results_test PRIVATE
  DW_COMPARE_FIXTURE="${CMAKE_CURRENT_SOURCE_DIR}/data/compare_fixture.json"
  DW_COMPARE_FIXTURE_V2="${CMAKE_CURRENT_SOURCE_DIR}/data/compare_fixture_v2.json"
  DW_COMPARE_RESULTS_DIR="${CMAKE_SOURCE_DIR}/docs/results")

# Which approaches each size runs and which failure scenarios apply to which
# approach, from the declarations (compare/approaches.cc, faults.cc).
dw_add_test(compare_plan_test SOURCES compare_plan_test.cc LIBS dw_compare
  LABELS unit compare TIMEOUT 60 IN_PROCESS)

# The typed pieces of compare's cells (cost, percentiles, windows, timelines,
# history): the JSON each writes.
dw_add_test(compare_cells_json_test SOURCES compare_cells_json_test.cc LIBS dw_compare
  nlohmann_json::nlohmann_json LABELS unit compare TIMEOUT 60 IN_PROCESS)

# The sustained verdict of an open-loop cell, and the committed runs judged
# again by it when rendered.
dw_add_test(compare_sustain_test SOURCES compare_sustain_test.cc LIBS dw_compare_render
  nlohmann_json::nlohmann_json LABELS unit compare TIMEOUT 60 IN_PROCESS)
target_compile_definitions(compare_sustain_test PRIVATE
  DW_COMPARE_FULL_RUN="${CMAKE_SOURCE_DIR}/docs/results/full/results.json")

# The "Order per key" section: rendered from results.json's order_per_key, absent without it.
dw_add_test(compare_report_ordering_test SOURCES compare_report_ordering_test.cc
  LIBS dw_compare_render nlohmann_json::nlohmann_json LABELS unit compare ordering TIMEOUT 60
  IN_PROCESS)
target_compile_definitions(compare_report_ordering_test PRIVATE
  DW_COMPARE_FIXTURE_V2="${CMAKE_CURRENT_SOURCE_DIR}/data/compare_fixture_v2.json")

# `compare --sink nats|rabbitmq` at the smoke size for one outbox strategy:
# one real server per run (nats-server, rabbitmq-server), the relays
# publishing to it, the tail and verify reading it back. Labelled by the
# server each test needs (nats, rabbitmq), as tests/nats.cmake and
# tests/rabbitmq.cmake are; the packages come from scripts/install-deps.sh.
dw_add_test(compare_sink_test SOURCES compare_sink_test.cc LIBS dw_common
  nlohmann_json::nlohmann_json LABELS slow compare nats TIMEOUT 900)
# The RabbitMQ test's own labels, set apart after discovery (dw_add_test's
# labels are one list for every test of the executable).
set(_dw_compare_sink_labels "${CMAKE_CURRENT_BINARY_DIR}/compare_sink_test_rabbitmq.cmake")
file(WRITE "${_dw_compare_sink_labels}"
  "if(compare_sink_test_TESTS)\n  set_tests_properties(CompareSink.Rabbitmq PROPERTIES LABELS \"slow;compare;rabbitmq\")\nendif()\n")
set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_dw_compare_sink_labels}")

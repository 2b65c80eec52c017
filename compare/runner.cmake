# The runner half of compare: plans, cells, processes, measurements.
add_library(dw_compare STATIC
  approaches.cc
  plan.cc
  lab.cc
  cell_broker.cc
  broker_tail.cc
  sink.cc
  cost.cc
  samples.cc
  history.cc
  monitor.cc
  rig.cc
  family_figures.cc
  faults.cc
  fault_agent_kill.cc
  fault_broker.cc
  fault_relay_outage.cc
  load_cell.cc
  fault_cell.cc
  agents.cc
  order_cell.cc
  machine.cc
  compare.cc
  chaos.cc
)
target_link_libraries(dw_compare PUBLIC dw_compare_render dw_outbox dw_saga dw_env dw_workload
  dw_jetstream dw_rabbitmq
  dw_participants dw_common PkgConfig::PQXX PkgConfig::PQ nlohmann_json::nlohmann_json
  Threads::Threads)
target_include_directories(dw_compare PUBLIC ${PROJECT_SOURCE_DIR})
# The build's commit goes into results.json (machine.dualwrite_commit),
# taken at every build by compare/git_commit.cmake.
add_custom_target(dw_git_commit
  COMMAND ${CMAKE_COMMAND} -DSRC=${PROJECT_SOURCE_DIR}
          -DOUT=${CMAKE_CURRENT_BINARY_DIR}/generated/dw_git_commit.h
          -P ${CMAKE_CURRENT_SOURCE_DIR}/git_commit.cmake
  BYPRODUCTS ${CMAKE_CURRENT_BINARY_DIR}/generated/dw_git_commit.h
  COMMENT "dualwrite commit")
add_dependencies(dw_compare dw_git_commit)
target_include_directories(dw_compare PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)

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
# The build's commit goes into results.json (machine.dualwrite_commit).
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  OUTPUT_VARIABLE DW_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(DW_GIT_COMMIT)
  set_source_files_properties(machine.cc PROPERTIES COMPILE_DEFINITIONS "DW_GIT_COMMIT=\"${DW_GIT_COMMIT}\"")
endif()

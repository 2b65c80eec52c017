# The coordinator benchmark: baseline vs 2PC vs the outbox writer.
add_executable(coordinator_bench coordinator_bench.cc)
target_include_directories(coordinator_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(coordinator_bench PRIVATE DW_BINARY="$<TARGET_FILE:dualwrite>")
target_link_libraries(coordinator_bench PRIVATE dw_bench_util dw_coordinator dw_outbox dw_env dw_workload
  dw_participants dw_common benchmark::benchmark PkgConfig::PQ)
add_dependencies(coordinator_bench dualwrite)

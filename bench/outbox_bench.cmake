# The outbox benchmark: drain rates paired with raw SQL baselines,
# DELETE vs partition drop, the writer with explicit insert vs capture trigger
# and vs pgbench, end-to-end latency at 1,000/s, relay keep-up at C=16.
add_executable(outbox_bench outbox_bench.cc)
target_include_directories(outbox_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(outbox_bench PRIVATE dw_bench_util dw_outbox dw_workload dw_participants
  dw_common benchmark::benchmark PkgConfig::PQXX PkgConfig::PQ)
add_dependencies(outbox_bench dualwrite)

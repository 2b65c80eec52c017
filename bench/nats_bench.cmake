# The outbox's JetStream sink: a skip-locked relay's drain into JetStream as
# a ratio to a minimal libnats async publish loop of the same messages. Not a
# test; run by hand (bench/README.md). Links libnats itself for the baseline
# (pkg-config `libnats`, as jetstream/ does).
pkg_check_modules(NATS_BENCH REQUIRED IMPORTED_TARGET libnats)
add_executable(nats_bench nats_bench.cc)
target_include_directories(nats_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(nats_bench PRIVATE dw_bench_sink dw_outbox dw_jetstream dw_env
  PkgConfig::NATS_BENCH PkgConfig::PQXX)
add_dependencies(nats_bench dualwrite)

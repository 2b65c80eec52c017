# The outbox's RabbitMQ sink: a skip-locked relay's drain into a quorum queue
# as a ratio to a minimal librabbitmq publish loop of the same messages (one
# confirm wait per batch). Not a test; run by hand (bench/README.md). Links
# librabbitmq itself for the baseline (pkg-config `librabbitmq`, as rabbitmq/
# does).
pkg_check_modules(RABBITMQ_BENCH REQUIRED IMPORTED_TARGET librabbitmq)
add_executable(rabbitmq_bench rabbitmq_bench.cc)
target_include_directories(rabbitmq_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(rabbitmq_bench PRIVATE dw_bench_sink dw_outbox dw_rabbitmq dw_env
  PkgConfig::RABBITMQ_BENCH PkgConfig::PQXX)
add_dependencies(rabbitmq_bench dualwrite)

# Bad input and security: every CLI flag refused with one line and
# nothing created; DSN passwords never printed or written; hostile payloads
# and names through both approaches and the broker API.
# The CLI cases need nothing running (they must not start anything).
dw_add_test(cli_bad_input_test SOURCES cli_bad_input_test.cc LABELS unit TIMEOUT 300)
# Private clusters (scram passwords, max_prepared_transactions = 0), broker
# processes of its own, and scratch databases of the outbox cluster (cdc
# needs wal_level=logical and no 2PC crash leftovers: see tests/CMakeLists.txt).
dw_add_test(security_test SOURCES security_test.cc LIBS dw_participants dw_workload
  nlohmann_json::nlohmann_json PkgConfig::PQ NEEDS_ENV ENV outbox LABELS security TIMEOUT 600)

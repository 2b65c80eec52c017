# Tests of the broker participant server (`dualwrite broker serve`). They
# start their own broker processes (tests/support BrokerProcess), so they
# need no shared environment.
dw_add_test(broker_core_test SOURCES broker_core_test.cc LIBS dw_broker LABELS broker IN_PROCESS)
# RecordFile, the broker log's medium, under injected file faults
# (tests/support/fault_file_env.h): crashes that lose unsynced bytes, failed writes.
dw_add_test(record_file_fault_test SOURCES record_file_fault_test.cc support/fault_file_env.cc
  LABELS broker unit IN_PROCESS)
dw_add_test(broker_log_test SOURCES broker_log_test.cc LIBS nlohmann_json::nlohmann_json
  LABELS broker)
dw_add_test(broker_api_test SOURCES broker_api_test.cc LIBS nlohmann_json::nlohmann_json
  LABELS broker)
dw_add_test(broker_crash_test SOURCES broker_crash_test.cc LIBS nlohmann_json::nlohmann_json
  LABELS broker)
dw_add_test(broker_server_test SOURCES broker_server_test.cc LIBS nlohmann_json::nlohmann_json
  LABELS broker)

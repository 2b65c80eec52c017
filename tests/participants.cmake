# Tests of the client-side participants library (dw_participants).
dw_add_test(participants_unit_test SOURCES participants_unit_test.cc LIBS dw_participants
  LABELS participants unit IN_PROCESS)
dw_add_test(participants_pg_test SOURCES participants_pg_test.cc LIBS dw_participants
  NEEDS_ENV LABELS participants TIMEOUT 300)
# Starts broker processes of its own (it kills them): no shared environment needed.
dw_add_test(participants_broker_test SOURCES participants_broker_test.cc LIBS dw_participants
  LABELS participants TIMEOUT 300)
dw_add_test(participants_broker_many_test SOURCES participants_broker_many_test.cc
  LIBS dw_participants nlohmann_json::nlohmann_json LABELS participants broker)
dw_add_test(participants_pg_started_test SOURCES participants_pg_started_test.cc LIBS dw_participants
  NEEDS_ENV LABELS participants TIMEOUT 300)

# TLS / mutual TLS between the broker and its clients:
# real `broker serve --tls-*` processes with certificates from
# scripts/gen-certs.sh; the end-to-end test (2pc run + verify over mutual
# TLS) uses the shared Postgres, hence NEEDS_ENV.
dw_add_test(broker_tls_test SOURCES broker_tls_test.cc LIBS dw_participants
  NEEDS_ENV LABELS broker TIMEOUT 300)
target_compile_definitions(broker_tls_test PRIVATE DW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# The embedded environment (`dualwrite up | down | env`), end to end against a
# real cluster and broker. Each test has its own state folder under /tmp: it
# does not use the shared ctest environment (it stops and kills things).
dw_add_test(env_test SOURCES env_test.cc LIBS dw_env LABELS env TIMEOUT 300)

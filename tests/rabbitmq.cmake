# rabbitmq-server as a managed process of the state folder (`up --sinks
# rabbitmq`, `down`, `env`): a real node and its own epmd per test. Needs the
# rabbitmq-server package (scripts/install-deps.sh). The node takes about 8 s
# to start.
dw_add_test(rabbitmq_test SOURCES rabbitmq_test.cc LIBS dw_env LABELS rabbitmq TIMEOUT 180)

# Tests of the fault proxy (proxy/): an echo server or a broker of the test's
# own behind it, and the `dualwrite proxy` process. No shared environment.
dw_add_test(proxy_test SOURCES proxy_test.cc LIBS dw_proxy nlohmann_json::nlohmann_json
  LABELS proxy TIMEOUT 120)

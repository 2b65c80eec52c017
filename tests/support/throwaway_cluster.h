// A Postgres cluster a test owns outright: initdb under /tmp, its own port,
// pg_ctl start/stop (immediate stops included), removed when the object
// dies. For what the shared environment must not suffer: a server killed
// mid-commit, max_prepared_transactions = 0, password authentication.
// As root it runs as the `postgres` OS user (Postgres refuses root).
#pragma once

#include <string>
#include <vector>

#include "common/process.h"

namespace dw::testing {

class ThrowawayCluster {
 public:
  static constexpr const char* kRole = "dw_secret_role";

  ThrowawayCluster() = default;
  ThrowawayCluster(const ThrowawayCluster&) = delete;
  ThrowawayCluster& operator=(const ThrowawayCluster&) = delete;
  ~ThrowawayCluster();  // stops it (immediate) and removes its folder

  // "" when it runs; otherwise why not. A reason containing "not found"
  // means Postgres is not installed here (callers may skip). `conf`: extra
  // postgresql.conf lines. A non-empty `password`: TCP connections need a
  // password (scram-sha-256) and role kRole is created with it; the unix
  // socket still trusts `postgres`.
  std::string Start(const std::vector<std::string>& conf, const std::string& password = "",
                    int max_connections = 20);
  // pg_ctl `what` (start | stop | restart); `mode` for stop/restart.
  std::string PgCtl(const std::string& what, const std::string& mode = "fast");

  // TCP as `postgres`, no password (trust clusters only).
  std::string dsn() const;
  // Over the unix socket as `postgres`, no password: test setup.
  std::string local_dsn() const;
  // TCP as kRole with `password`, URI and key=value forms.
  std::string uri(const std::string& password, const std::string& db = "postgres") const;
  std::string kv(const std::string& password, const std::string& db = "postgres") const;
  int port() const { return port_; }

 private:
  std::string bin_, dir_;
  SpawnOptions run_as_;
  int port_ = 0;
  bool running_ = false;
};

// Starts `cluster` or skips the test when Postgres is not installed; any
// other failure fails it.
#define DW_START_THROWAWAY_CLUSTER(cluster, ...)                           \
  do {                                                                     \
    std::string err_ = (cluster).Start(__VA_ARGS__);                       \
    if (err_.find("not found") != std::string::npos) GTEST_SKIP() << err_; \
    ASSERT_EQ(err_, "");                                                   \
  } while (0)

}  // namespace dw::testing

#include "compare/machine.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <map>

#include <pqxx/pqxx>

#include "compare/results.h"
#include "dw_git_commit.h"  // generated at build time: compare/git_commit.cmake

namespace dw::compare {
namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto c = line.find(':');
      if (c != std::string::npos) return line.substr(line.find_first_not_of(' ', c + 1));
    }
  }
  return "";
}

double MemoryGib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb / (1024.0 * 1024.0);
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

}  // namespace

results::Machine DescribeMachine(const std::string& dsn) {
  using results::Field;
  results::Machine m;
  std::string cpu = CpuModel();
  m.cpu = cpu.empty() ? Field<std::string>(nullptr) : Field<std::string>(cpu);
  m.cores = sysconf(_SC_NPROCESSORS_ONLN);
  m.memory_gib = MemoryGib();
  utsname u{};
  m.kernel = uname(&u) == 0 ? Field<std::string>(std::string(u.sysname) + " " + u.release)
                            : Field<std::string>(nullptr);
  m.postgres_version = nullptr;
  m.postgres_settings = nullptr;
  m.fsync_method = nullptr;
  try {
    pqxx::connection c{dsn};
    pqxx::nontransaction tx{c};
    m.postgres_version = tx.exec1("SHOW server_version")[0].as<std::string>();
    std::map<std::string, std::string> s;
    for (const char* name :
         {"fsync", "synchronous_commit", "wal_sync_method", "full_page_writes", "shared_buffers",
          "max_prepared_transactions", "wal_level", "checkpoint_timeout", "max_wal_size"}) {
      s[name] = tx.exec1(std::string("SHOW ") + name)[0].as<std::string>();
    }
    m.fsync_method = s["wal_sync_method"];
    m.postgres_settings = s;
  } catch (const std::exception&) {
  }
  m.broker_fsync = "batch";
#ifdef DW_GIT_COMMIT
  m.dualwrite_commit = DW_GIT_COMMIT;
#else
  m.dualwrite_commit = nullptr;
#endif
  return m;
}

std::string UtcNowIso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace dw::compare

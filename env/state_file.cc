#include "env/state_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dw::env {

Status LoadEnvState(const std::string& path, EnvState* out) {
  *out = EnvState{};
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return Status::OK();
    return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption(path + " is not a JSON object");
  try {
    out->pg_port = j.value("pg_port", 0);
    out->broker_port = j.value("broker_port", 0);
    out->postgres_pid = j.value("postgres_pid", 0);
    out->broker_pid = j.value("broker_pid", 0);
    out->pg_bin_dir = j.value("pg_bin_dir", "");
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(path + ": " + e.what());
  }
  return Status::OK();
}

Status SaveEnvState(const std::string& path, const EnvState& st, const std::string& dsn,
                    const std::string& broker_url) {
  nlohmann::json j = {
      {"pg_port", st.pg_port},           {"broker_port", st.broker_port},
      {"postgres_pid", st.postgres_pid}, {"broker_pid", st.broker_pid},
      {"pg_bin_dir", st.pg_bin_dir},     {"dsn", dsn},
      {"broker_url", broker_url},
  };
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
    out.flush();
    if (!out) return Status::IOError("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    unlink(tmp.c_str());
    return Status::IOError("cannot rename " + tmp + " to " + path + ": " + err);
  }
  return Status::OK();
}

}  // namespace dw::env

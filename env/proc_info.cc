#include "env/proc_info.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/process.h"

namespace dw::env {

std::vector<std::string> ProcessArgv(pid_t pid) {
  std::vector<std::string> argv;
  if (pid <= 0) return argv;
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(f, arg, '\0')) argv.push_back(arg);
  return argv;
}

std::string ProcessName(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(f, name);
  return name;
}

std::optional<uid_t> ProcessUid(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream in(line.substr(4));
      long uid;
      if (in >> uid) return static_cast<uid_t>(uid);
    }
  }
  return std::nullopt;
}

bool ProcessMatches(pid_t pid, const std::vector<std::string>& args) {
  if (!ProcessAlive(pid)) return false;
  std::vector<std::string> argv = ProcessArgv(pid);
  if (argv.empty()) return false;
  for (const auto& want : args) {
    if (std::find(argv.begin(), argv.end(), want) == argv.end()) return false;
  }
  return true;
}

}  // namespace dw::env

#include "env/proc_info.h"

#include <unistd.h>

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

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (pid <= 0 || !std::getline(f, line)) return -1;
  // Fields after the ")" that ends the command name: state is field 3,
  // utime and stime are fields 14 and 15 (proc(5)).
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = -1, stime = -1;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  if (utime < 0 || stime < 0) return -1;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
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

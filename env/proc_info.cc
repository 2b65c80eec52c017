#include "env/proc_info.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
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

namespace {

// Fields 3..17 of /proc/PID/stat (proc(5)), counted after the ")" that ends
// the command name (which may itself hold spaces and parentheses); false
// when the process is gone or the line is cut short.
bool StatFields(pid_t pid, std::vector<std::string>* fields) {
  if (pid <= 0) return false;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return false;
  std::istringstream rest(line.substr(close + 2));
  fields->assign(3, "");  // fields 0..2: unused, so that index = field number
  std::string field;
  for (int i = 3; i <= 17 && rest >> field; ++i) fields->push_back(field);
  return fields->size() == 18;
}

double Ticks(const std::string& field) {
  return std::strtod(field.c_str(), nullptr) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

CpuTimes ProcessCpuTimes(pid_t pid) {
  std::vector<std::string> f;
  if (!StatFields(pid, &f)) return {};
  return {Ticks(f[14]) + Ticks(f[15]), Ticks(f[16]) + Ticks(f[17])};
}

double ProcessCpuSeconds(pid_t pid) { return ProcessCpuTimes(pid).self_s; }

std::vector<pid_t> ChildPids(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    std::vector<std::string> f;
    if (StatFields(pid, &f) && std::strtol(f[4].c_str(), nullptr, 10) == parent) {
      out.push_back(pid);
    }
  }
  return out;
}

double ProcessTreeCpuSeconds(pid_t pid) {
  const CpuTimes own = ProcessCpuTimes(pid);
  if (own.self_s < 0) return -1;
  double total = own.self_s + own.reaped_children_s;
  for (pid_t child : ChildPids(pid)) {
    // A child that exits between the listing and this read is not lost:
    // its time moves into the parent's reaped figure, read above or next time.
    const double c = ProcessCpuSeconds(child);
    if (c > 0) total += c;
  }
  return total;
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

#include "saga/crash_points.h"

#include <unistd.h>
#include <csignal>

namespace dw::saga {
namespace {

constexpr CrashAt kAll[] = {CrashAt::kAfterT1, CrashAt::kAfterPublish,
                            CrashAt::kDuringCompensation};

}  // namespace

const char* CrashAtName(CrashAt c) {
  switch (c) {
    case CrashAt::kAfterT1:
      return "after-t1";
    case CrashAt::kAfterPublish:
      return "after-publish";
    case CrashAt::kDuringCompensation:
      return "during-compensation";
  }
  return "?";
}

std::optional<CrashAt> ParseCrashAt(std::string_view name) {
  for (CrashAt c : kAll) {
    if (name == CrashAtName(c)) return c;
  }
  return std::nullopt;
}

std::string CrashAtNames() {
  std::string out;
  for (CrashAt c : kAll) {
    if (!out.empty()) out += '|';
    out += CrashAtName(c);
  }
  return out;
}

void CrashNow(CrashAt c, int64_t saga_id) {
  std::string line = "dualwrite: crash point " + std::string(CrashAtName(c)) + " reached in saga " +
                     std::to_string(saga_id) + ": SIGKILL\n";
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
  ::raise(SIGKILL);
  ::_exit(137);  // not reached: SIGKILL cannot be caught
}

}  // namespace dw::saga

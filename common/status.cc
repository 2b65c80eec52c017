#include "common/status.h"

namespace dw {

const char* CodeName(Status::Code c) {
  switch (c) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kAborted:
      return "Aborted";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kUnavailable:
      return "Unavailable";
    case Status::Code::kTimeout:
      return "Timeout";
    case Status::Code::kInDoubt:
      return "InDoubt";
    case Status::Code::kIOError:
      return "IOError";
    case Status::Code::kNoSpace:
      return "NoSpace";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kFailedPrecondition:
      return "FailedPrecondition";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace dw

// Status: the result of an operation where failure is a normal outcome
// (a participant votes abort, a broker is down, a commit is in doubt).
// Modelled on leveldb::Status: cheap when OK, carries a code and a message
// otherwise. Exceptions stay inside the layer that talks to a library that
// throws (libpqxx, Beast); interfaces between layers return Status.
#pragma once

#include <string>
#include <utility>

namespace dw {

// [[nodiscard]]: a Status nobody looks at is a failure lost. A call whose
// result may be dropped says so with (void) and a comment saying why.
class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,            // the named thing does not exist (unknown gid, missing file)
    kAborted,             // a participant voted abort / refused the work
    kInvalidArgument,     // the caller's input is wrong; retrying will not help
    kUnavailable,         // could not reach the other side; nothing happened there
    kTimeout,             // no answer in time; the outcome may be unknown
    kInDoubt,             // the request may or may not have taken effect
    kIOError,             // local I/O failed
    kNoSpace,             // the disk is full; nothing was written
    kCorruption,          // stored data failed a checksum or is malformed
    kFailedPrecondition,  // the system is not set up for this (e.g. 2PC disabled)
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Aborted(std::string m) { return {Code::kAborted, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status InDoubt(std::string m) { return {Code::kInDoubt, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsAborted() const { return code_ == Code::kAborted; }
  // True when the other side may or may not have applied the request: the
  // caller must find out (or retry an idempotent request) before moving on.
  bool IsOutcomeUnknown() const { return code_ == Code::kTimeout || code_ == Code::kInDoubt; }

  // "NotFound: no such gid" style text for logs and one-line CLI errors.
  std::string ToString() const;

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code c);

}  // namespace dw

#include "broker/api.h"

#include <utility>

namespace dw::broker::api {

Status StatusForHttp(int http, std::string message) {
  switch (CodeForHttp(http)) {
    case Status::Code::kOk:
      return Status::OK();
    case Status::Code::kNotFound:
      return Status::NotFound(std::move(message));
    case Status::Code::kAborted:
      return Status::Aborted(std::move(message));
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(message));
    case Status::Code::kUnavailable:
      return Status::Unavailable(std::move(message));
    case Status::Code::kTimeout:
      return Status::Timeout(std::move(message));
    case Status::Code::kInDoubt:
      return Status::InDoubt(std::move(message));
    case Status::Code::kNoSpace:
      return Status::NoSpace(std::move(message));
    case Status::Code::kCorruption:
      return Status::Corruption(std::move(message));
    case Status::Code::kFailedPrecondition:
      return Status::FailedPrecondition(std::move(message));
    case Status::Code::kIOError:
      break;
  }
  return Status::IOError(std::move(message));
}

Route MatchRoute(const std::vector<std::string_view>& seg) {
  if (seg.size() == 1) {
    if (seg[0] == "healthz") return Route::kHealthz;
    if (seg[0] == "metrics") return Route::kMetrics;
    if (seg[0] == "transactions") return Route::kTransactions;
  }
  if (seg.size() == 2 && seg[0] == "admin" && seg[1] == "faults") return Route::kFaults;
  if (seg.size() == 2 && seg[0] == "transactions") {
    if (seg[1] == "prepare") return Route::kPrepareMany;
    if (seg[1] == "commit") return Route::kCommitMany;
  }
  if (seg.size() == 3 && seg[0] == "topics") {
    if (seg[2] == "messages") return Route::kMessages;
    if (seg[2] == "batch") return Route::kBatch;
  }
  if (seg.size() == 3 && seg[0] == "transactions") {
    if (seg[2] == "prepare") return Route::kPrepare;
    if (seg[2] == "commit") return Route::kCommit;
    if (seg[2] == "abort") return Route::kAbort;
    if (seg[2] == "precommit") return Route::kPrecommit;
  }
  return Route::kNone;
}

std::string Path(Route route, std::string_view name) {
  const std::string n(name);
  switch (route) {
    case Route::kNone:
      break;
    case Route::kHealthz:
      return "/healthz";
    case Route::kMetrics:
      return "/metrics";
    case Route::kFaults:
      return "/admin/faults";
    case Route::kMessages:
      return "/topics/" + n + "/messages";
    case Route::kBatch:
      return "/topics/" + n + "/batch";
    case Route::kTransactions:
      return std::string("/transactions?") + kStateParam + "=" + kStatePrepared;
    case Route::kPrepare:
      return "/transactions/" + n + "/prepare";
    case Route::kCommit:
      return "/transactions/" + n + "/commit";
    case Route::kAbort:
      return "/transactions/" + n + "/abort";
    case Route::kPrecommit:
      return "/transactions/" + n + "/precommit";
    case Route::kPrepareMany:
      return "/transactions/prepare";
    case Route::kCommitMany:
      return "/transactions/commit";
  }
  return "/";
}

std::string ReadPath(std::string_view topic, uint64_t from, uint64_t limit) {
  return Path(Route::kMessages, topic) + "?" + kFromParam + "=" + std::to_string(from) + "&" +
         kLimitParam + "=" + std::to_string(limit);
}

}  // namespace dw::broker::api

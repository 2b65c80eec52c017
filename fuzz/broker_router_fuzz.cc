// libFuzzer target: the broker's HTTP API below the sockets - arbitrary
// methods, targets, bodies and tokens into Router::Handle
// (broker/router.h), over a real Store, Writer thread and
// broker.log in a temp dir.
//
// Input format (text, so seeds are readable and mutations stay meaningful):
//   an optional leading '!' turns authentication on (token "s3cret");
//   then requests separated by the line "\n--\n", at most 16, each
//     METHOD SP TARGET '\n' [ "Authorization: " VALUE '\n' ] BODY
//   A first line without a space is a method with target "/".
//
// Every input starts from an empty broker (fresh Store, log and Writer) and
// ends with the Writer stopped, so nothing accumulates from one input to the
// next and any finding reproduces from its input alone. Requests run one at a
// time (each waits for its answer), which keeps the outcome deterministic.
//
// Checked, beyond "no crash, no leak, no UB, no hang":
//   - `done` is called exactly once per request;
//   - the status is one the API documents for this setting (no 500: an
//     "internal error" here is an exception escaping the routing code, and
//     the disk is not failing);
//   - every body but /metrics' is valid JSON; a 405 names the allowed methods;
//   - replaying the log the run wrote rebuilds exactly the state the live
//     Store reached (what was acknowledged is what is durable).
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/faults.h"
#include "broker/log_format.h"
#include "broker/metrics.h"
#include "broker/router.h"
#include "broker/store.h"
#include "broker/writer.h"
#include "common/record_file.h"

namespace {

using dw::RecordFile;
using dw::Status;
using namespace dw::broker;

constexpr size_t kMaxRequests = 16;
constexpr std::string_view kSeparator = "\n--\n";
constexpr std::string_view kAuthPrefix = "Authorization: ";

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "broker_router_fuzz: invariant violated: %s\n", what.c_str());
  std::abort();
}

void Check(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

// One temp dir per fuzzing process, removed at exit.
const std::string& Dir() {
  // Never destroyed: the atexit handler below runs after static destructors
  // registered later, and still needs the name.
  static const std::string& dir = *new std::string([] {
    // tmpfs when there is one: every input writes, truncates and syncs a
    // file, and a disk's fdatasync would dominate the run.
    std::string d = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    d += "/dw-fuzz-router-XXXXXX";
    if (!mkdtemp(d.data())) Fail("mkdtemp failed");
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Dir(), ec);
    });
    return d;
  }());
  return dir;
}

std::vector<HttpRequest> ParseInput(std::string_view in, bool* token) {
  *token = !in.empty() && in[0] == '!';
  if (*token) in.remove_prefix(1);
  std::vector<HttpRequest> out;
  while (out.size() < kMaxRequests) {
    size_t sep = in.find(kSeparator);
    std::string_view one = in.substr(0, sep);
    HttpRequest r;
    size_t nl = one.find('\n');
    std::string_view line = one.substr(0, nl);
    std::string_view rest = nl == std::string_view::npos ? std::string_view() : one.substr(nl + 1);
    size_t sp = line.find(' ');
    r.method = std::string(line.substr(0, sp));
    r.target = sp == std::string_view::npos ? "/" : std::string(line.substr(sp + 1));
    if (rest.starts_with(kAuthPrefix)) {
      rest.remove_prefix(kAuthPrefix.size());
      size_t e = rest.find('\n');
      r.authorization = std::string(rest.substr(0, e));
      rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 1);
    }
    r.body = std::string(rest);
    out.push_back(std::move(r));
    if (sep == std::string_view::npos) break;
    in.remove_prefix(sep + kSeparator.size());
  }
  return out;
}

// The answer to one request, handed over from whichever thread calls `done`.
struct Answer {
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> calls{0};
  bool ready = false;
  HttpResult result;
};

bool DocumentedStatus(int s) {
  switch (s) {
    case 200:
    case 201:
    case 400:
    case 401:
    case 404:
    case 405:
    case 409:
    case 412:
    case 422:
      return true;
    default:
      return false;
  }
}

Status Replay(const std::string& path, Store* store, RecordFile::ReplayReport* report) {
  std::unique_ptr<RecordFile> f;
  return RecordFile::Open(
      path,
      [store](std::string_view payload) {
        Record r;
        Status s = DecodeRecord(payload, &r);
        return s.ok() ? store->Apply(r) : s;
      },
      &f, report);
}

void CheckSameState(const Store& live, const Store& replayed) {
  Store::Stats a = live.GetStats(), b = replayed.GetStats();
  Check(a.records_applied == b.records_applied, "replay applied a different number of records");
  Check(a.prepared == b.prepared && a.committed == b.committed && a.aborted == b.aborted,
        "replay rebuilt different transaction counts");
  Check(a.topic_sizes == b.topic_sizes, "replay rebuilt different topics");
  for (const auto& [topic, n] : a.topic_sizes) {
    std::vector<StoredMessage> x, y;
    live.Read(topic, 0, n + 1, &x);
    replayed.Read(topic, 0, n + 1, &y);
    Check(x.size() == n && y.size() == n, "topic " + topic + " reads back short");
    for (size_t i = 0; i < n; ++i) {
      Check(x[i].offset == i && y[i].offset == i, "offsets are not dense in " + topic);
      Check(x[i].data == y[i].data && x[i].ts_ms == y[i].ts_ms,
            "replayed message differs in " + topic);
    }
  }
  auto p = live.ListPrepared(), q = replayed.ListPrepared();
  Check(p.size() == q.size(), "replay rebuilt a different prepared set");
  for (size_t i = 0; i < p.size(); ++i) {
    Check(p[i].gid == q[i].gid && p[i].messages == q[i].messages,
          "replayed prepared transaction differs");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bool token = false;
  std::vector<HttpRequest> reqs =
      ParseInput(std::string_view(reinterpret_cast<const char*>(data), size), &token);

  const std::string log_path = Dir() + "/broker.log";
  ::unlink(log_path.c_str());
  Store store;
  Metrics metrics;
  Faults faults;
  std::unique_ptr<RecordFile> log;
  RecordFile::ReplayReport report;
  Check(RecordFile::Open(
            log_path, [](std::string_view) { return Status::OK(); }, &log, &report)
            .ok(),
        "cannot open a fresh log");
  // kNever: write() without fdatasync - durability against power loss is
  // not what is being fuzzed, and a sync per input would halve the speed.
  Writer writer(&store, log.get(), FsyncPolicy::kNever, &faults, &metrics);
  writer.Start();
  Router router(&store, &writer, &faults, &metrics, token ? "s3cret" : "");

  std::vector<std::shared_ptr<Answer>> answers;
  for (const HttpRequest& req : reqs) {
    auto a = std::make_shared<Answer>();
    answers.push_back(a);
    router.Handle(req, [a](HttpResult r) {
      if (a->calls.fetch_add(1) > 0) Fail("done called twice");
      std::lock_guard lock(a->mu);
      a->result = std::move(r);
      a->ready = true;
      a->cv.notify_all();
    });
    {
      // A request that is never answered hangs here: libFuzzer's -timeout
      // reports it.
      std::unique_lock lock(a->mu);
      a->cv.wait(lock, [&] { return a->ready; });
    }
    const HttpResult& r = a->result;
    const std::string where = req.method + " " + req.target + " -> " + std::to_string(r.status);
    Check(DocumentedStatus(r.status), "undocumented status: " + where + " " + r.body);
    if (r.status == 405) Check(!r.allow.empty(), "405 without Allow: " + where);
    if (r.route != "metrics") {
      Check(!nlohmann::json::parse(r.body, nullptr, false).is_discarded(),
            "body is not JSON: " + where + " " + r.body);
    }
    // The crash points are real _exit(3)s by design (faults.h): the admin
    // route may set them - that parsing is fuzzed - but they are disarmed
    // before the next request can reach them.
    if (faults.crash_at() != CrashPoint::kNone) {
      FaultConfig c = faults.Get();
      c.crash_at = CrashPoint::kNone;
      faults.Set(c);
    }
  }
  writer.Stop();
  for (const auto& a : answers) Check(a->calls.load() == 1, "a request was answered twice");

  Store replayed;
  Status s = Replay(log_path, &replayed, &report);
  Check(s.ok(), "the log the broker wrote does not replay: " + s.ToString());
  Check(report.truncated_bytes == 0, "the log the broker wrote has a torn tail");
  CheckSameState(store, replayed);
  return 0;
}

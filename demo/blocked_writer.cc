#include "demo/blocked_writer.h"

#include <exception>
#include <utility>

namespace dw::demo {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPoll{25};

}  // namespace

BlockedWriter::BlockedWriter(Stage& st, Narrator& n, const std::string& name,
                             const std::string& application_name, std::string sql)
    : st_(st), session_(&n, name, st.dsn()), sql_(std::move(sql)) {
  session_.Quiet("SET application_name = " + session_.Quote(application_name));
  n.Sql(name, sql_);
  started_at_ = Clock::now();
  thread_ = std::thread([this] {
    try {
      session_.Quiet(sql_);
    } catch (const std::exception& e) {
      error_ = OneLine(e.what());
    }
    finished_ms_ = MsSince(started_at_);
    done_ = true;
  });
}

BlockedWriter::~BlockedWriter() {
  if (!thread_.joinable()) return;
  if (!done_) Stop();
  thread_.join();
}

bool BlockedWriter::WaitUntilBlocked(milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  // By backend pid: another client of the lesson may share the
  // application_name's prefix, and must not count.
  const std::string sql = "SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                          std::to_string(session_.backend_pid()) + " AND wait_event_type = 'Lock'";
  while (!waited_on_lock_ && !done_) {
    waited_on_lock_ = st_.Int(sql) == 1;
    if (waited_on_lock_ || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPoll);
  }
  return waited_on_lock_;
}

bool BlockedWriter::WaitFinished(milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done_ && Clock::now() < deadline) std::this_thread::sleep_for(kPoll);
  const bool by_itself = done_;
  if (!by_itself) Stop();
  if (thread_.joinable()) thread_.join();
  return by_itself;
}

void BlockedWriter::Stop() {
  // A cancel that arrives before the statement started is lost, so it is
  // repeated; a backend that ignores cancels for seconds is terminated,
  // which ends the statement with a connection error.
  const std::string pid = std::to_string(session_.backend_pid());
  const auto terminate_at = Clock::now() + std::chrono::seconds(5);
  bool terminated = false;
  while (!done_ && !terminated) {
    terminated = Clock::now() >= terminate_at;
    try {
      st_.Int(std::string("SELECT ") + (terminated ? "pg_terminate_backend" : "pg_cancel_backend") +
              "(" + pid + ")::int");
    } catch (const std::exception&) {
      // The server unreachable from here is unreachable for the
      // statement's connection too: it fails with it, and the join ends.
      return;
    }
    for (int i = 0; i < 10 && !done_; ++i) std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace dw::demo

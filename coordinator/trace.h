// Trace: the protocol steps of each transaction with timestamps, for
// `2pc run --trace` (a readable timeline) and `--trace-format mermaid` (a
// sequence diagram to paste into any Mermaid renderer).
//
// Events come from every worker and pool thread; one mutex orders them.
// Only the first `max_txns` transactions are traced so that a long run does
// not turn into an unreadable diagram or unbounded memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <unordered_set>
#include <vector>

namespace dw::coord {

class Trace {
 public:
  enum class Format { kText, kMermaid };

  explicit Trace(size_t max_txns);

  // Starts tracing gid if the budget allows; later events of untraced gids are dropped.
  void Begin(const std::string& gid);
  // The coordinator asks `to` (a participant, "log") for `what`.
  void Send(const std::string& gid, const std::string& to, const std::string& what);
  // `from` answers.
  void Reply(const std::string& gid, const std::string& from, const std::string& what);
  // A step inside the coordinator (decision, crash point, hand-off to the background).
  void Note(const std::string& gid, const std::string& what);

  void Write(std::ostream& out, Format f) const;

 private:
  enum class Kind { kSend, kReply, kNote };
  struct Event {
    int64_t t_us;
    Kind kind;
    std::string gid, actor, what;
  };
  void Add(Kind k, const std::string& gid, const std::string& actor, const std::string& what);

  const size_t max_txns_;
  const std::chrono::steady_clock::time_point t0_;
  mutable std::mutex mu_;
  std::unordered_set<std::string> traced_;  // guarded by mu_
  std::vector<std::string> actors_;         // in order of appearance, guarded by mu_
  std::vector<Event> events_;               // guarded by mu_
};

}  // namespace dw::coord

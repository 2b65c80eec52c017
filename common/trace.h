// Trace: the steps of a protocol run with timestamps, as a readable timeline
// or a Mermaid sequence diagram (paste it into any Mermaid renderer). Used by
// `2pc run --trace` (one id per transaction, the coordinator talking to its
// participants and log), `outbox write --trace` (one id per order, the writer
// talking to Postgres) and `outbox relay --trace` (one id per batch, the relay
// talking to Postgres and the broker).
//
// The model is generic: one origin (the process doing the work, drawn as the
// first lifeline), actors it talks to (in order of appearance), and per id a
// sequence of Send (origin -> actor), Reply (actor -> origin) and Note (a step
// inside the origin).
//
// Events come from any thread; one mutex orders them. Only the first
// `max_ids` ids are traced so that a long run does not turn into an
// unreadable diagram or unbounded memory. Callers hold a `Trace*` that is
// null when tracing is off and test it before building any label, so an
// untraced run pays one pointer test per step.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <unordered_set>
#include <vector>

namespace dw {

class Trace {
 public:
  enum class Format { kText, kMermaid };
  enum class Kind { kSend, kReply, kNote };
  // One recorded step. `actor`: whom the origin talks to (Send, Reply), or
  // the origin itself (Note).
  struct Event {
    int64_t t_us;  // since the Trace was made (steady clock)
    Kind kind;
    std::string id, actor, what;
  };

  // `origin`: the name of the process whose steps are traced.
  explicit Trace(size_t max_ids, std::string origin = "coordinator");

  // Starts tracing `id` if the budget allows (true then); later events of
  // untraced ids are dropped.
  bool Begin(const std::string& id);
  // Forgets `id` and its events and gives its place in the budget back (a
  // relay batch that found nothing to do).
  void Discard(const std::string& id);
  // True when `id` is being traced.
  bool Traced(const std::string& id) const;

  // The origin asks `to` (a participant, "log", "postgres", "broker") for `what`.
  void Send(const std::string& id, const std::string& to, const std::string& what);
  // `from` answers (or, for a stream, delivers something unasked).
  void Reply(const std::string& id, const std::string& from, const std::string& what);
  // A step inside the origin (a decision, a crash point, a hand-off).
  void Note(const std::string& id, const std::string& what);

  void Write(std::ostream& out, Format f) const;

  // A copy of the events of the traced ids, in time order (what Write
  // prints): for a program that measures from a trace rather than reading it.
  std::vector<Event> Events() const;

 private:
  std::vector<Event> SortedEvents() const;  // mu_ held
  void Add(Kind k, const std::string& id, const std::string& actor, const std::string& what);

  const size_t max_ids_;
  const std::string origin_;
  const std::chrono::steady_clock::time_point t0_;
  mutable std::mutex mu_;
  std::unordered_set<std::string> traced_;  // guarded by mu_
  std::vector<std::string> actors_;         // in order of appearance, guarded by mu_
  std::vector<Event> events_;               // guarded by mu_
};

}  // namespace dw

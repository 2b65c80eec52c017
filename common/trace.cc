#include "common/trace.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace dw {

Trace::Trace(size_t max_ids, std::string origin)
    : max_ids_(max_ids), origin_(std::move(origin)), t0_(std::chrono::steady_clock::now()) {}

bool Trace::Begin(const std::string& id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (traced_.size() >= max_ids_) return false;
    traced_.insert(id);
  }
  Note(id, "begin");
  return true;
}

void Trace::Discard(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  if (traced_.erase(id) == 0) return;
  events_.erase(
      std::remove_if(events_.begin(), events_.end(), [&](const Event& e) { return e.id == id; }),
      events_.end());
  // An actor only this id talked to disappears with it.
  actors_.erase(std::remove_if(actors_.begin(), actors_.end(),
                               [&](const std::string& a) {
                                 return std::none_of(events_.begin(), events_.end(),
                                                     [&](const Event& e) {
                                                       return e.kind != Kind::kNote && e.actor == a;
                                                     });
                               }),
                actors_.end());
}

bool Trace::Traced(const std::string& id) const {
  std::lock_guard<std::mutex> l(mu_);
  return traced_.count(id) > 0;
}

void Trace::Send(const std::string& id, const std::string& to, const std::string& what) {
  Add(Kind::kSend, id, to, what);
}

void Trace::Reply(const std::string& id, const std::string& from, const std::string& what) {
  Add(Kind::kReply, id, from, what);
}

void Trace::Note(const std::string& id, const std::string& what) {
  Add(Kind::kNote, id, origin_, what);
}

void Trace::Add(Kind k, const std::string& id, const std::string& actor, const std::string& what) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);
  if (!traced_.count(id)) return;
  if (k != Kind::kNote && std::find(actors_.begin(), actors_.end(), actor) == actors_.end()) {
    actors_.push_back(actor);
  }
  events_.push_back(Event{std::chrono::duration_cast<std::chrono::microseconds>(now - t0_).count(),
                          k, id, actor, what});
}

std::vector<Trace::Event> Trace::SortedEvents() const {
  std::vector<Event> ev = events_;
  // Threads append in lock order, which can differ from clock order by the
  // time one waited for the mutex.
  std::stable_sort(ev.begin(), ev.end(),
                   [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
  return ev;
}

std::vector<Trace::Event> Trace::Events() const {
  std::lock_guard<std::mutex> l(mu_);
  return SortedEvents();
}

void Trace::Write(std::ostream& out, Format f) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Event> ev = SortedEvents();
  if (f == Format::kText) {
    out << "# trace: " << traced_.size() << " id(s), times in ms from the start\n";
    size_t w = origin_.size();
    for (const auto& a : actors_) w = std::max(w, a.size());
    for (const Event& e : ev) {
      char t[32];
      std::snprintf(t, sizeof t, "%10.3f", e.t_us / 1000.0);
      std::string arrow;
      switch (e.kind) {
        case Kind::kSend:
          arrow = "-> " + e.actor;
          break;
        case Kind::kReply:
          arrow = "<- " + e.actor;
          break;
        case Kind::kNote:
          arrow = "   " + origin_;
          break;
      }
      arrow.resize(std::max(arrow.size(), w + 3), ' ');
      out << t << "  " << e.id << "  " << arrow << "  " << e.what << "\n";
    }
    return;
  }
  // Mermaid: identifiers must be plain, names are shown as aliases.
  std::map<std::string, std::string> id;
  out << "sequenceDiagram\n";
  out << "  participant C as " << origin_ << "\n";
  for (size_t i = 0; i < actors_.size(); ++i) {
    id[actors_[i]] = "P" + std::to_string(i);
    out << "  participant P" << i << " as " << actors_[i] << "\n";
  }
  auto clean = [](std::string s) {
    // ';' and '#' end or escape a Mermaid message; a newline ends it.
    for (char& c : s) {
      if (c == ';' || c == '#') c = ',';
      if (c == '\n' || c == '\r') c = ' ';
    }
    return s;
  };
  for (const Event& e : ev) {
    char t[32];
    std::snprintf(t, sizeof t, "%.3f ms", e.t_us / 1000.0);
    switch (e.kind) {
      case Kind::kSend:
        out << "  C->>" << id[e.actor] << ": " << clean(e.what) << " " << e.id << " (" << t
            << ")\n";
        break;
      case Kind::kReply:
        out << "  " << id[e.actor] << "-->>C: " << clean(e.what) << " " << e.id << " (" << t
            << ")\n";
        break;
      case Kind::kNote:
        out << "  Note over C: " << e.id << " " << clean(e.what) << " (" << t << ")\n";
        break;
    }
  }
}

}  // namespace dw

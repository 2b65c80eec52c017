#include "coordinator/trace.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace dw::coord {

Trace::Trace(size_t max_txns) : max_txns_(max_txns), t0_(std::chrono::steady_clock::now()) {}

void Trace::Begin(const std::string& gid) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (traced_.size() >= max_txns_) return;
    traced_.insert(gid);
  }
  Note(gid, "begin");
}

void Trace::Send(const std::string& gid, const std::string& to, const std::string& what) {
  Add(Kind::kSend, gid, to, what);
}

void Trace::Reply(const std::string& gid, const std::string& from, const std::string& what) {
  Add(Kind::kReply, gid, from, what);
}

void Trace::Note(const std::string& gid, const std::string& what) {
  Add(Kind::kNote, gid, "coordinator", what);
}

void Trace::Add(Kind k, const std::string& gid, const std::string& actor, const std::string& what) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);
  if (!traced_.count(gid)) return;
  if (k != Kind::kNote && std::find(actors_.begin(), actors_.end(), actor) == actors_.end()) {
    actors_.push_back(actor);
  }
  events_.push_back(Event{std::chrono::duration_cast<std::chrono::microseconds>(now - t0_).count(),
                          k, gid, actor, what});
}

void Trace::Write(std::ostream& out, Format f) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Event> ev = events_;
  std::stable_sort(ev.begin(), ev.end(),
                   [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
  if (f == Format::kText) {
    out << "# trace: " << traced_.size() << " transaction(s), times in ms from the start\n";
    size_t w = 11;
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
          arrow = "   coordinator";
          break;
      }
      arrow.resize(std::max(arrow.size(), w + 3), ' ');
      out << t << "  " << e.gid << "  " << arrow << "  " << e.what << "\n";
    }
    return;
  }
  // Mermaid: identifiers must be plain, names are shown as aliases.
  std::map<std::string, std::string> id;
  out << "sequenceDiagram\n";
  out << "  participant C as coordinator\n";
  for (size_t i = 0; i < actors_.size(); ++i) {
    id[actors_[i]] = "P" + std::to_string(i);
    out << "  participant P" << i << " as " << actors_[i] << "\n";
  }
  auto clean = [](std::string s) {
    // ';' and '#' end or escape a Mermaid message.
    for (char& c : s) {
      if (c == ';' || c == '#') c = ',';
    }
    return s;
  };
  for (const Event& e : ev) {
    char t[32];
    std::snprintf(t, sizeof t, "%.3f ms", e.t_us / 1000.0);
    switch (e.kind) {
      case Kind::kSend:
        out << "  C->>" << id[e.actor] << ": " << clean(e.what) << " " << e.gid << " (" << t
            << ")\n";
        break;
      case Kind::kReply:
        out << "  " << id[e.actor] << "-->>C: " << clean(e.what) << " " << e.gid << " (" << t
            << ")\n";
        break;
      case Kind::kNote:
        out << "  Note over C: " << e.gid << " " << clean(e.what) << " (" << t << ")\n";
        break;
    }
  }
}

}  // namespace dw::coord

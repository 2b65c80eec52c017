#include "proxy/state.h"

namespace dw::proxy {

ProxyFaults ProxyState::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

void ProxyState::set_faults(const ProxyFaults& f) {
  std::lock_guard lock(mu_);
  faults_ = f;
}

uint64_t ProxyState::Register(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  sessions_.emplace(id, s);
  return id;
}

void ProxyState::Unregister(uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

std::vector<std::shared_ptr<Session>> ProxyState::OpenSessions() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (const auto& [id, w] : sessions_) {
    if (auto s = w.lock()) out.push_back(std::move(s));
  }
  return out;
}

ProxyStats ProxyState::stats() const {
  ProxyStats s;
  s.connections_accepted = accepted.load();
  s.connections_reset = resets.load();
  s.upstream_connect_failures = upstream_failures.load();
  s.bytes_up = bytes_up.load();
  s.bytes_down = bytes_down.load();
  s.bytes_dropped = bytes_dropped.load();
  std::lock_guard lock(mu_);
  s.connections_open = sessions_.size();
  return s;
}

}  // namespace dw::proxy

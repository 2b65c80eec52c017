#include "compare/cell_broker.h"

#include <signal.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <thread>

#include "common/process.h"
#include "env/broker_daemon.h"
#include "participants/broker_client.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;

Status Client(const std::string& url, std::unique_ptr<BrokerClient>* out) {
  BrokerClient::Options o;
  o.url = url;
  o.timeout = milliseconds(3000);
  return BrokerClient::Create(o, out);
}

}  // namespace

CellBroker::CellBroker(CellBroker&& o) noexcept { *this = std::move(o); }

CellBroker& CellBroker::operator=(CellBroker&& o) noexcept {
  if (this != &o) {
    (void)Stop();
    binary_ = std::move(o.binary_);
    dir_ = std::move(o.dir_);
    url_ = std::move(o.url_);
    port_ = o.port_;
    pid_ = o.pid_;
    carried_ = std::move(o.carried_);
    o.pid_ = -1;
    o.dir_.clear();
  }
  return *this;
}

CellBroker::~CellBroker() { (void)Stop(); }

Status CellBroker::StartOwn(const std::string& binary, const std::string& dir, CellBroker* out) {
  CellBroker b;
  b.binary_ = binary;
  b.dir_ = dir;
  b.port_ = FreeTcpPort();
  if (b.port_ <= 0) return Status::IOError("no free TCP port for the cell's broker");
  b.url_ = "http://127.0.0.1:" + std::to_string(b.port_);
  Status s = b.Spawn();
  if (!s.ok()) return s;
  *out = std::move(b);
  return Status::OK();
}

Status CellBroker::UseExternal(const std::string& url, CellBroker* out) {
  CellBroker b;
  b.url_ = url;
  std::unique_ptr<BrokerClient> c;
  Status s = Client(url, &c);
  if (s.ok()) s = c->Health();
  if (!s.ok()) return Status::Unavailable("broker " + url + " is not answering: " + s.ToString());
  *out = std::move(b);
  return Status::OK();
}

Status CellBroker::Spawn() {
  SpawnOptions so;
  so.stdout_path = dir_ + ".out";
  so.stderr_path = "=stdout";
  Status s =
      dw::Spawn({binary_, "broker", "serve", "--listen", "127.0.0.1:" + std::to_string(port_),
                 "--data-dir", dir_, "--fsync", "batch"},
                so, &pid_);
  if (!s.ok()) return s;
  bool healthy = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!healthy && std::chrono::steady_clock::now() < deadline) {
    if (WaitChild(pid_, milliseconds(0))) break;  // it exited: the port was taken, say
    healthy = env::BrokerDaemon::Healthy(port_, milliseconds(500));
    if (!healthy) std::this_thread::sleep_for(milliseconds(20));
  }
  if (!healthy) {
    kill(pid_, SIGKILL);
    WaitChild(pid_, milliseconds(5000));
    pid_ = -1;
    return Status::Unavailable("the cell's broker did not become healthy on port " +
                               std::to_string(port_) + " (see " + dir_ + ".out)");
  }
  return Status::OK();
}

Status CellBroker::Admin(const std::string& body) const {
  std::unique_ptr<BrokerClient> c;
  Status s = Client(url_, &c);
  if (!s.ok()) return s;
  HttpResponse r;
  s = c->Request("POST", "/admin/faults", body, &r);
  if (!s.ok()) return s;
  if (r.status / 100 != 2) {
    return Status::IOError("POST /admin/faults answered " + std::to_string(r.status) + ": " +
                           r.body);
  }
  return Status::OK();
}

Status CellBroker::Down(double seconds) {
  if (pid_ <= 0) {
    if (own()) return Status::FailedPrecondition("the cell's broker is not running");
    return Admin("{\"down_for_ms\": " + std::to_string(static_cast<int64_t>(seconds * 1000)) + "}");
  }
  std::map<std::string, uint64_t> m;
  if (ReadMetrics(&m).ok()) {
    for (const auto& [k, v] : m) carried_[k] += v;
  }
  kill(pid_, SIGKILL);
  WaitChild(pid_, milliseconds(10000));
  pid_ = -1;
  return Status::OK();
}

Status CellBroker::SetCrashAt(const std::string& point) {
  if (!own()) {
    return Status::FailedPrecondition("compare does not crash a broker it did not start");
  }
  return Admin("{\"crash_at\": \"" + point + "\"}");
}

bool CellBroker::Alive() {
  if (pid_ <= 0) return false;
  if (WaitChild(pid_, milliseconds(0))) {
    pid_ = -1;
    return false;
  }
  return true;
}

Status CellBroker::Up() {
  if (!own()) return Status::OK();  // down_for_ms expires by itself
  if (Alive()) return Status::OK();
  // The port was released by the kernel when the process died; take it again.
  Status s;
  for (int attempt = 0; attempt < 20; ++attempt) {
    s = Spawn();
    if (s.ok()) return s;
    std::this_thread::sleep_for(milliseconds(250));
  }
  return s;
}

Status CellBroker::SetLatencyMs(double ms) {
  std::ostringstream b;
  b << "{\"latency_ms\": " << ms << "}";
  return Admin(b.str());
}

Status CellBroker::ReadMetrics(std::map<std::string, uint64_t>* out) const {
  std::unique_ptr<BrokerClient> c;
  Status s = Client(url_, &c);
  if (!s.ok()) return s;
  HttpResponse r;
  s = c->Request("GET", "/metrics", "", &r);
  if (!s.ok()) return s;
  if (r.status != 200) return Status::IOError("GET /metrics answered " + std::to_string(r.status));
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line.find('{') != std::string::npos) continue;
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    (*out)[line.substr(0, sp)] = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
  }
  return Status::OK();
}

Status CellBroker::Counter(const std::string& name, uint64_t* value) {
  std::map<std::string, uint64_t> m;
  Status s = ReadMetrics(&m);
  if (!s.ok()) return s;
  *value = carried_[name] + m[name];
  return Status::OK();
}

Status CellBroker::Stop() {
  if (pid_ <= 0) return Status::OK();
  kill(pid_, SIGTERM);
  if (!WaitChild(pid_, milliseconds(10000))) {
    kill(pid_, SIGKILL);
    WaitChild(pid_, milliseconds(5000));
  }
  pid_ = -1;
  return Status::OK();
}

}  // namespace dw::compare

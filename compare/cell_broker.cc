#include "compare/cell_broker.h"

#include <chrono>
#include <memory>
#include <sstream>

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
    own_ = o.own_;
    broker_ = std::move(o.broker_);
    url_ = std::move(o.url_);
    o.own_ = false;
  }
  return *this;
}

CellBroker::~CellBroker() { (void)Stop(); }

Status CellBroker::StartOwn(const std::string& binary, const std::string& dir, CellBroker* out) {
  env::ServerOptions so;
  so.data_dir = dir;
  so.log_path = dir + ".out";
  // After a SIGKILL (broker-down) the port may stay taken for a moment.
  so.start_attempts = 20;
  CellBroker b;
  b.own_ = true;
  b.broker_ = env::BrokerProcess(binary, std::move(so), {"--fsync", "batch"});
  if (b.broker_.port() <= 0) return Status::IOError("no free TCP port for the cell's broker");
  b.url_ = b.broker_.url();
  Status s = b.broker_.Start();
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
  if (!own_) {
    return Admin("{\"down_for_ms\": " + std::to_string(static_cast<int64_t>(seconds * 1000)) + "}");
  }
  if (!broker_.Running()) return Status::FailedPrecondition("the cell's broker is not running");
  return broker_.Kill();  // carries its counters over first
}

Status CellBroker::SetCrashAt(const std::string& point) {
  if (!own_) {
    return Status::FailedPrecondition("compare does not crash a broker it did not start");
  }
  return Admin("{\"crash_at\": \"" + point + "\"}");
}

bool CellBroker::Alive() { return own_ && broker_.Running(); }

Status CellBroker::Up() {
  if (!own_) return Status::OK();  // down_for_ms expires by itself
  // Start is a no-op while it runs; the port is the one it had.
  return broker_.Start();
}

Status CellBroker::SetLatencyMs(double ms) {
  std::ostringstream b;
  b << "{\"latency_ms\": " << ms << "}";
  return Admin(b.str());
}

Status CellBroker::SetRejectProb(double p) {
  std::ostringstream b;
  b << "{\"reject_prob\": " << p << "}";
  return Admin(b.str());
}

Status CellBroker::Counter(const std::string& name, uint64_t* value) {
  if (own_) return broker_.Counter(name, value);
  std::map<std::string, uint64_t> m;
  Status s = env::ReadBrokerCounters(url_, &m);
  if (!s.ok()) return s;
  *value = m[name];
  return Status::OK();
}

Status CellBroker::Stop() {
  if (!own_) return Status::OK();
  return broker_.Stop(std::chrono::seconds(10));
}

}  // namespace dw::compare

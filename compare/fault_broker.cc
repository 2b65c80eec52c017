// The failure scenarios that act on the broker: broker-down, broker-slow,
// broker-reject and partition (compare/faults.h). With dualwrite's broker
// each uses the broker's own knobs (a kill and restart on the same log, its
// latency and reject faults) or a fault proxy in front of it; with a real
// sink (compare --sink) the server is killed and started again on the same
// port and data folder, or a fault proxy stands between it and the relay.
#include <cmath>
#include <string>
#include <vector>

#include "common/process.h"
#include "compare/faults.h"

namespace dw::compare {
namespace {

// The run's real sink (compare --sink), when the cell publishes to one.
SinkServer* CellSink(FaultRun& r) { return r.rig.sink_url.empty() ? nullptr : r.ctx.sink; }

// A `dualwrite proxy` of the cell forwarding to `upstream` (host:port);
// returns once its control port answers.
Status StartFaultProxy(FaultRun& r, const std::string& tag, const std::string& upstream, int* port,
                       int* control_port) {
  *port = FreeTcpPort();
  *control_port = FreeTcpPort();
  Proc* proxy = nullptr;
  Status s = StartProc(r.ctx, &r.rig, tag,
                       {"proxy", "--listen", "127.0.0.1:" + std::to_string(*port), "--upstream",
                        upstream, "--control", "127.0.0.1:" + std::to_string(*control_port)},
                       &proxy);
  if (!s.ok()) return s;
  for (int i = 0; i < 100; ++i) {
    if (PostProxyFaults(*control_port, "{}").ok()) return Status::OK();
    SleepS(0.05);
  }
  return Status::IOError("the fault proxy did not start");
}

// A real sink: SIGKILL of its server and a restart on the same port and
// data folder after the window, which is what "nothing acknowledged lost"
// is about (RabbitMQ's quorum queues sync before they confirm; JetStream
// 2.9 acknowledges before its periodic sync, which a process kill, unlike
// an OS crash, does not undo). The restart's own start-up comes on top of
// the window: RabbitMQ takes seconds to accept clients again.
class BrokerDown : public Fault {
 public:
  Status Inject(FaultRun& r) override {
    SinkServer* sink = CellSink(r);
    if (!sink) return r.rig.broker.Down(r.spec.fault_s);
    Status s = sink->Kill();
    if (s.ok()) {
      r.notes.push_back(std::string(sink->ProcessName()) +
                        " killed with SIGKILL and started again on the same port and data "
                        "folder at the end of the window");
    }
    return s;
  }
  Status Heal(FaultRun& r) override {
    SinkServer* sink = CellSink(r);
    if (!sink) return r.rig.broker.Up();
    const int64_t t0 = NowUs();
    Status s = sink->Restart(r.ctx.log);
    if (!s.ok()) return s;
    r.rig.sink_pid = sink->pid();
    r.notes.push_back(std::string(sink->ProcessName()) + " accepted clients again " +
                      Fmt(std::round((NowUs() - t0) / 1e4) / 100) + " s after its restart began");
    return Status::OK();
  }
};

// A real sink: a fault proxy in front of its server, which the relay
// publishes through from its start (rig.client_sink_url); the observers
// (tail, verify) read the server itself.
Status ProxySink(FaultRun& r, int* control_port) {
  const std::string& url = r.rig.sink_url;  // nats://127.0.0.1:PORT or amqp://127.0.0.1:PORT/
  const size_t host = url.find("://") + 3;
  const size_t path = url.find('/', host);
  const std::string upstream =
      url.substr(host, path == std::string::npos ? std::string::npos : path - host);
  int port = 0;
  Status s = StartFaultProxy(r, "proxy", upstream, &port, control_port);
  if (!s.ok()) return s;
  r.rig.client_sink_url = url.substr(0, host) + "127.0.0.1:" + std::to_string(port) +
                          (path == std::string::npos ? "" : url.substr(path));
  return Status::OK();
}

// A real sink has no latency knob of its own: the fault proxy holds each
// chunk the server sends to the relay (acks, confirms) 50 ms, so each
// publish's answer comes 50 ms later, as dualwrite's broker's does.
class BrokerSlow : public Fault {
 public:
  Status Setup(FaultRun& r) override {
    return CellSink(r) ? ProxySink(r, &control_) : Status::OK();
  }
  Status Inject(FaultRun& r) override {
    if (!CellSink(r)) return r.rig.broker.SetLatencyMs(50);
    r.notes.push_back("the fault proxy between the relay and " +
                      std::string(CellSink(r)->ProcessName()) +
                      " held every chunk the server sent 50 ms during the window");
    return PostProxyFaults(control_, "{\"down\": {\"latency_ms\": 50}}");
  }
  Status Heal(FaultRun& r) override {
    if (!CellSink(r)) return r.rig.broker.SetLatencyMs(0);
    return PostProxyFaults(control_, "{\"down\": {\"latency_ms\": 0}}");
  }

 private:
  int control_ = 0;
};

// A quarter of the single-message publishes refused during the window.
class BrokerReject : public Fault {
 public:
  Status Inject(FaultRun& r) override {
    r.notes.push_back("the broker refused a quarter of the publishes (422) during the window");
    return r.rig.broker.SetRejectProb(0.25);
  }
  Status Heal(FaultRun& r) override { return r.rig.broker.SetRejectProb(0); }
};

// The coordinator/relay reach the broker only through the proxy; the
// observers (tail, monitor, verify) talk to it directly. A real sink
// alike: the relay publishes through a proxy in front of its server, whose
// blackhole leaves the relay's publishes unanswered until its client's
// timeout, and a connection that lost bytes stays cut (proxy/faults.h):
// the relay's next batch connects again.
//
// 3PC: the partition its termination rule cannot see. A proxy stands in
// front of each agent: the coordinator reaches the broker agent through
// one, and each agent reaches the other through the other's. The split
// resets every connection across it and refuses new ones, leaving the
// coordinator with the Postgres agent on one side and the broker agent
// alone on the other. A transaction whose PreCommit reached the Postgres
// agent only is then committed by that side and aborted by the other.
// The agents terminate after a short --timeout here, and the split is held
// until both sides had the time to (so it is shown whatever the window).
class Partition : public Fault {
 public:
  Status Setup(FaultRun& r) override {
    if (r.approach.is_3pc()) return SetupAgents(r);
    if (CellSink(r)) return ProxySink(r, &control_port_);
    int port = 0;
    const std::string upstream = r.rig.broker.url().substr(std::string("http://").size());
    Status s = StartFaultProxy(r, "proxy", upstream, &port, &control_port_);
    if (!s.ok()) return s;
    r.rig.client_broker = "http://127.0.0.1:" + std::to_string(port);
    return Status::OK();
  }
  Status Inject(FaultRun& r) override {
    if (SinkServer* sink = CellSink(r)) {
      r.notes.push_back("the fault proxy between the relay and " +
                        std::string(sink->ProcessName()) +
                        " blackholed every byte during the window");
    }
    if (!r.approach.is_3pc()) return PostProxyFaults(control_port_, "{\"blackhole\": true}");
    split_at_us_ = NowUs();
    for (int c : agent_controls_) {
      Status s = PostProxyFaults(c, "{\"reset\": true, \"refuse\": true}");
      if (!s.ok()) return s;
    }
    return Status::OK();
  }
  Status Heal(FaultRun& r) override {
    if (!r.approach.is_3pc()) return PostProxyFaults(control_port_, "{\"blackhole\": false}");
    // Long enough for a timeout on each side, a termination each, and a tick.
    const double hold_s = 2.5 * static_cast<double>(r.rig.agents.timeout_ms) / 1000 + 0.5;
    const double held_s = (NowUs() - split_at_us_) / 1e6;
    if (held_s < hold_s) {
      r.notes.push_back("the split was held " + Fmt(hold_s) +
                        " s, past the fault window, so that both sides' termination ran");
      SleepS(hold_s - held_s);
    }
    for (int c : agent_controls_) {
      Status s = PostProxyFaults(c, "{\"reset\": false, \"refuse\": false}");
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

 private:
  Status SetupAgents(FaultRun& r) {
    PlanAgents(&r.rig);
    CellAgents& ag = r.rig.agents;
    ag.timeout_ms = kPartitionAgentTimeoutMs;
    for (const auto& [id, port] : ag.port) {
      int via = 0, control = 0;
      Status s = StartFaultProxy(r, "proxy-agent-" + std::to_string(id),
                                 "127.0.0.1:" + std::to_string(port), &via, &control);
      if (!s.ok()) return s;
      agent_controls_.push_back(control);
      ag.peer[id] = via;
      // The coordinator stays on the Postgres agent's side.
      if (id != 1) ag.coordinator[id] = via;
    }
    r.notes.push_back(
        "the coordinator and the Postgres agent on one side, the broker agent on the other; the "
        "agents' --timeout is " +
        std::to_string(kPartitionAgentTimeoutMs) + " ms here");
    return Status::OK();
  }

  // Short, so that a window of a second shows both sides' decisions.
  static constexpr int64_t kPartitionAgentTimeoutMs = 400;
  int control_port_ = 0;
  std::vector<int> agent_controls_;
  int64_t split_at_us_ = 0;
};

}  // namespace

std::unique_ptr<Fault> MakeBrokerDown() { return std::make_unique<BrokerDown>(); }
std::unique_ptr<Fault> MakeBrokerSlow() { return std::make_unique<BrokerSlow>(); }
std::unique_ptr<Fault> MakeBrokerReject() { return std::make_unique<BrokerReject>(); }
std::unique_ptr<Fault> MakePartition() { return std::make_unique<Partition>(); }

}  // namespace dw::compare

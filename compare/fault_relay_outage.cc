// relay-outage (chaos only, the outbox): the relay is stopped (SIGSTOP) for
// spec.kill_after_s while the writer goes on, so a backlog builds; let go
// (SIGCONT), it drains it a batch at a time, and is SIGKILLed as soon as the
// tail reads a message of that drain. So it dies mid-drain, often with a
// batch published and not yet marked sent (or, for the CDC relay, its slot
// position not yet confirmed), where a random SIGKILL (process-kill) mostly
// finds a relay that has caught up. Often, not always: the tail reads a
// message about when the relay gets its ack, and a relay that marks its
// batch before the kill lands has nothing to publish again. It stays down
// for the rest of the window and its restart publishes what was in flight
// again.
//
// What the second copies become depends on the broker: dualwrite's broker
// drops a republished id, RabbitMQ keeps no ids and delivers them, and
// JetStream drops them only within its duplicate window (the relay's
// --dedupe-window, 2 min by default). The chaos campaign makes the window
// of this fault outlast a --dedupe-window it was given, so the replay comes
// after the window, as a CDC slot's after a long outage does. Either way
// the copies are at-least-once delivery, nothing lost.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "compare/faults.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;

// How long the let-go relay may take to publish anything before it is
// killed regardless (a relay with nothing to drain).
constexpr double kDrainWaitS = 5;

class RelayOutage : public Fault {
 public:
  Status Inject(FaultRun& r) override {
    if (!r.relay_i) return Status::FailedPrecondition("relay-outage: the cell runs no relay");
    Proc& relay = r.rig.procs[*r.relay_i];
    auto read = [&r] { return r.rig.tail ? r.rig.tail->unique() : 0; };
    relay.Signal(SIGSTOP);
    const double paused = std::max(0.0, r.spec.kill_after_s);
    SleepS(paused);
    // Whatever the relay had sent before it stopped has been read by now.
    const uint64_t before = read();
    relay.Signal(SIGCONT);
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(kDrainWaitS);
    bool drained_some = false;
    while (!(drained_some = read() > before) && std::chrono::steady_clock::now() < give_up) {
      SleepS(0.001);
    }
    relay.Signal(SIGKILL);
    relay.Wait(milliseconds(10000));
    killed_us_ = NowUs();
    r.notes.push_back(
        "the relay was stopped (SIGSTOP) for " + Fmt(paused) +
        " s while the writer went on, let go, and killed with SIGKILL " +
        (drained_some ? std::string("mid-drain, as the tail read the first message of its "
                                    "backlog")
                      : "after " + Fmt(kDrainWaitS) + " s in which the tail read nothing of it"));
    return Status::OK();
  }
  Status Heal(FaultRun& r) override {
    r.notes.push_back("the relay stayed down " +
                      Fmt(std::round((NowUs() - killed_us_) / 1e5) / 10) +
                      " s and was restarted at the end of the window");
    return r.RestartRelay();
  }

 private:
  int64_t killed_us_ = 0;
};

}  // namespace

std::unique_ptr<Fault> MakeRelayOutage() { return std::make_unique<RelayOutage>(); }

}  // namespace dw::compare

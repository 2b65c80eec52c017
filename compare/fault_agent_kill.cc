// agent-kill (chaos only, 3PC): one of the cell's participant agents
// (`3pc agent`, compare/agents.h) is SIGKILLed at a seeded moment of the
// window while the coordinator goes on, and started again with the same
// arguments at the window's end. What it checks: an agent resumes from its
// participant's durable state (threepc/participant_state.h), so whatever it
// held undecided when it died is finished by the termination protocol
// (threepc/agent.h), both sides the same way, with no recover command;
// the cell then waits for every agent to hold nothing undecided.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "compare/faults.h"
#include "env/http_get.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;

// The drawn victim (FaultSpec::crash_at): the Postgres agent is id 1, the
// broker agent id 2 (compare/agents.cc).
int VictimId(const FaultSpec& spec) { return spec.crash_at == "broker-agent" ? 2 : 1; }

class AgentKill : public Fault {
 public:
  Status Inject(FaultRun& r) override {
    const double after = r.SleepUntilKill();
    id_ = VictimId(r.spec);
    const std::string tag = "agent-" + std::to_string(id_);
    Proc* victim = nullptr;
    for (auto& p : r.rig.procs) {
      if (p.tag == tag && p.running()) victim = &p;
    }
    if (victim == nullptr) return Status::FailedPrecondition("no running 3pc " + tag + " to kill");
    args_ = victim->args;
    victim->Signal(SIGKILL);
    victim->Wait(milliseconds(10000));
    r.notes.push_back("3pc " + tag + " (" + (id_ == 1 ? "postgres" : "broker") +
                      ") killed with SIGKILL " + Fmt(after) +
                      " s into the fault window, started again at its end");
    return Status::OK();
  }

  // The same command line: same id, port, peers and participant; what it
  // held undecided it reads back from the participant (Agent::Adopt).
  Status Heal(FaultRun& r) override {
    if (args_.empty()) return Status::OK();
    const std::string tag = "agent-" + std::to_string(id_) + "-restarted";
    Proc* p = nullptr;
    Status s = StartProc(r.ctx, &r.rig, tag, args_, &p);
    if (!s.ok()) return s;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      env::HttpReply rep;
      if (env::HttpGet(r.rig.agents.port.at(id_), "/healthz", milliseconds(2000), &rep).ok() &&
          rep.status == 200) {
        return Status::OK();
      }
      if (p->Wait(milliseconds(0))) {
        return Status::IOError("3pc " + tag + " stopped at start: " + p->ErrorLine());
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::Timeout("3pc " + tag + " did not answer within 20 s");
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

 private:
  int id_ = 1;
  std::vector<std::string> args_;
};

}  // namespace

std::unique_ptr<Fault> MakeAgentKill() { return std::make_unique<AgentKill>(); }

}  // namespace dw::compare

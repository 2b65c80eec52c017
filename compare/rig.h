// Rig: one cell's world, shared by load cells and fault cells. A fresh
// database in the lab, a broker of its own (or the user's), a consumer
// tailing the orders topic, a folder for logs and samples, and every
// `dualwrite` child process the cell starts (load, relay, proxy, recover),
// each with its command line kept for the report.
//
// Threading: a Rig belongs to the thread running the cell; only its
// BrokerTail runs a thread of its own.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "compare/agents.h"
#include "compare/approaches.h"
#include "compare/broker_tail.h"
#include "compare/cell_broker.h"
#include "compare/cells.h"
#include "workload/verify.h"

namespace dw::compare {

void SleepS(double s);
std::string Fmt(double v);  // shortest decimal text of v
std::string Join(const std::vector<std::string>& v);
std::string LastLine(const std::string& path);  // the last non-empty line of a file

// A `dualwrite` child process of a cell, its output in the cell's folder.
struct Proc {
  pid_t pid = -1;
  std::string tag, out, err;
  std::vector<std::string> args;  // after the global flags, for the report
  int status = -1;                // raw wait status once reaped

  bool running() const { return pid > 0 && status == -1; }
  // True when it exited (or was reaped) within `timeout`.
  bool Wait(std::chrono::milliseconds timeout);
  void Signal(int sig);
  // SIGTERM, then SIGKILL if it does not stop.
  void Stop(std::chrono::milliseconds grace);
  bool ok() const;
  std::string ErrorLine() const;  // "tag (how it ended): last stderr line"
};

struct Rig {
  int index = 0;
  std::string db, dir, dsn;
  CellBroker broker;
  std::string client_broker;  // what the coordinator/relay talk to (maybe through the proxy)
  // compare --sink nats|rabbitmq (compare/sink.h): the run's server, which
  // the relay publishes to (--sink), the tail reads and verify judges;
  // empty: dualwrite's broker above. Its pid, for the broker's CPU.
  std::string sink_url;
  pid_t sink_pid = -1;
  // What the relay publishes to when a fault proxy stands in front of the
  // sink (broker-slow, partition): its URL; empty: sink_url itself.
  std::string client_sink_url;
  int64_t min_id = 0, max_id = 0;
  std::string coordinator_id;  // 2PC, 3PC: unique per cell and run
  CellAgents agents;           // 3PC: the participant agents (compare/agents.h)
  std::unique_ptr<BrokerTail> tail;
  std::deque<Proc> procs;  // every process started (stable addresses), stopped at the end

  ~Rig();  // SIGKILLs whatever still runs
};

// A fresh database (orders schema, the stock table for hot rows, the outbox
// schema and partitions for an outbox approach), a broker and its tail.
Status PrepareRig(CellContext& ctx, const Approach& a, const std::string& slug, Rig* rig);
// Stops every process and the broker, drops the database, and removes the
// folder unless the cell failed or --keep-cells.
void CleanupRig(CellContext& ctx, Rig* rig, bool failed);

// Starts `dualwrite --dsn ... --state-dir ... [--broker ...] args...`.
// 2PC commands get --coordinator-id `coordinator_id` (the rig's when empty).
// `3pc run` gets the rig's agents (--agents), started first if need be.
Status StartProc(CellContext& ctx, Rig* rig, const std::string& tag,
                 const std::vector<std::string>& args, Proc** out,
                 const std::string& coordinator_id = "");

// What a load process is asked to do.
struct LoadShape {
  int concurrency = 1;
  double rate = 0;  // > 0: open loop at this many arrivals per second
  double seconds = 1;
  int hot_rows = 0;
  double hot_skew = 0;
  int64_t min_ops = 0;  // > 0: on past `seconds` until this many completed (--min-transactions)
};
std::vector<std::string> LoadArgs(const Approach& a, const LoadShape& shape,
                                  const std::string& samples, uint64_t seed);

// The relay of an outbox approach as deployed (Approach::relay_batch /
// relay_instances), `instances` > 0 overriding the count.
std::vector<std::string> RelayArgs(const Approach& a, bool by_time, int instances = 0);

// Starts the relay and returns once it listens (CDC: once its slot exists),
// so no row is written before it can see it.
Status StartRelay(CellContext& ctx, Rig* rig, const Approach& a, bool by_time, int instances,
                  Proc** out);

uint64_t CountRows(const Rig& rig);  // orders rows of the cell's id range

// Waits until the broker holds a message for every committed row. Returns the
// seconds it took, or a negative value on timeout.
double Drain(const Rig& rig, double timeout_s);

// The reverse, for rows built from the messages (event sourcing): waits
// until the tail has read at least `min_messages` order ids (the writes
// acknowledged) and every order id it read has its row. Seconds, or < 0 on
// timeout.
double CatchUp(const Rig& rig, double timeout_s, uint64_t min_messages);

// Drain or CatchUp, whichever way the approach's data flows.
double Settle(const Rig& rig, const Approach& a, double timeout_s, uint64_t min_messages = 0);

// verify's counts as JSON ({ok, missing, orphans, duplicates, in_doubt});
// the full report in *out when given.
nlohmann::json VerifyJson(const Rig& rig, const std::string& broker_url,
                          workload::VerifyReport* out);
// The approach's own judge (Judge in approaches.h): verify, the saga's
// verify (its report under `saga`; placed orders without their OrderPlaced
// count as missing, events without their row as orphans, placed orders with
// two OrderPlaced as duplicates, sagas still pending or compensating as in
// doubt, and the other broken rules as `saga_violations`), or the floor's.
nlohmann::json JudgeJson(const Rig& rig, const Approach& a, workload::VerifyReport* out);
// The floor's verify: only in-doubt transactions matter (it sends nothing).
nlohmann::json FloorVerifyJson(const Rig& rig);

std::string CommandLine(const Proc* load, const Proc* relay);

// The approach's recover command (`2pc recover` for a coordinator of the
// cell, the rig's when `coordinator_id` is empty; `saga recover`); what it
// did goes into `notes`.
void RunRecover(CellContext& ctx, Rig* rig, const Approach& a, nlohmann::json* notes,
                const std::string& coordinator_id = "");

// POST /faults to a `dualwrite proxy` control port.
Status PostProxyFaults(int control_port, const std::string& body);

int64_t NowUs();  // unix µs

}  // namespace dw::compare

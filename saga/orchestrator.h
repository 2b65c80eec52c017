// The orchestrated saga of "place order" (Garcia-Molina & Salem, 1987): a
// sequence of local transactions, each committed on its own, with a
// compensation for those before the pivot.
//   T1  compensatable  INSERT the order 'pending' (the semantic lock: readers
//                      know it is not decided) and its saga log row; C1
//                      undoes it by marking it 'cancelled' (never deleting:
//                      a reader may have seen it).
//   T2  pivot          publish OrderPlaced (pivot.h), within a budget.
//   T3  retriable      'placed', log 'done'; retried until it succeeds.
// When T2 is refused or its budget runs out: C1, then OrderCancelled.
// Nothing is ever in doubt across systems and no lock spans them; in
// exchange other readers see the pending and cancelled states.
//
// Every step is a local transaction behind the barrier of steps.h, and a
// saga is owned by one driver at a time (an advisory lock held from T1 to
// the end); a crash leaves the saga 'pending' or 'compensating' in the log,
// and Recover (recovery.cc; `saga recover`, and a periodic loop inside
// `saga run`) finishes every open saga whose owner is gone.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/armed_crash.h"
#include "common/status.h"
#include "participants/broker_client.h"
#include "saga/crash_points.h"
#include "saga/pivot.h"
#include "saga/steps.h"
#include "workload/orders.h"

namespace dw::saga {

struct SagaOptions {
  std::string dsn;
  std::string broker_url;
  int workers = 1;  // PlaceOrder's `worker` is in [0, workers)
  PivotOptions pivot;
  std::chrono::milliseconds publish_timeout{1000};  // per broker request
  std::optional<CrashAt> crash_at;
  int64_t crash_after = 0;  // arm crash_at once this many sagas finished
  // Period of the recovery loop; 0: no loop (Recover is still callable).
  std::chrono::milliseconds recovery_interval{0};
  std::string application_name = "dualwrite-saga";
};

enum class SagaEnd {
  kPlaced,     // T3 committed (by this driver or another)
  kCancelled,  // compensated: the order is 'cancelled' (its event may still be
               // left to recovery: compensation_events_left)
  kOpen,       // an error left it 'pending' (or T1's fate unknown): recovery finishes it
};

struct RecoveryReport {
  uint64_t listed = 0;              // open sagas found
  uint64_t owned = 0;               // skipped: their owner is alive
  uint64_t placed = 0;              // pending -> placed
  uint64_t cancelled = 0;           // pending -> compensated
  uint64_t events_sent = 0;         // compensating -> compensated (OrderCancelled sent)
  uint64_t still_open = 0;          // claimed but not finished (errors says why)
  std::vector<std::string> errors;  // the first few

  void Add(const RecoveryReport& r);
  nlohmann::json ToJson() const;
  std::string ToText() const;
};

struct SagaStats {
  uint64_t placed = 0, cancelled = 0, open = 0;
  uint64_t refused = 0, out_of_budget = 0;  // why the cancelled ones were compensated
  uint64_t publish_attempts = 0;            // of the pivot, retries included
  uint64_t in_doubt = 0;                    // compensations that published the fence
  uint64_t compensation_events_left = 0;    // cancelled, OrderCancelled left to recovery
  RecoveryReport recovery;                  // the loop's, summed
};

class Orchestrator {
 public:
  // Connects nothing yet but the broker client; starts the recovery loop.
  // InvalidArgument for a bad broker URL.
  static Status Create(const SagaOptions& o, std::unique_ptr<Orchestrator>* out);
  ~Orchestrator();  // stops the loop

  // Runs one saga for `o` on worker `worker`'s connection. *error gets the
  // failure that left work to recovery: the saga open, or a cancelled one's
  // OrderCancelled unsent; it stays OK otherwise (a refusal is no error).
  SagaEnd PlaceOrder(int worker, const workload::Order& o, Status* error);

  // One pass over every open saga not owned by a live driver: a pending one
  // runs the pivot again (the same message id) and goes forward or is
  // compensated; a compensating one gets its OrderCancelled. Error only when
  // the open sagas cannot be listed.
  Status Recover(RecoveryReport* out);

  SagaStats stats() const;

 private:
  explicit Orchestrator(const SagaOptions& o);
  // From the pivot on, for T1 done and owned by `steps`. in_doubt: an
  // earlier attempt's fate is unknown (a dead driver's). *error as PlaceOrder's.
  SagaEnd Drive(SagaSteps* steps, int64_t id, const OutMessage& placed, bool in_doubt,
                Status* error);
  // C1 done: OrderCancelled (or the fence), then the log.
  SagaEnd SendCompensation(SagaSteps* steps, int64_t id, const OutMessage& placed, bool in_doubt,
                           Status* error);
  void MaybeCrash(CrashAt at, int64_t id) const;
  void Count(SagaEnd e);
  void Loop();

  SagaOptions opts_;
  std::unique_ptr<BrokerClient> broker_;
  std::vector<std::unique_ptr<SagaSteps>> workers_;
  std::mutex recover_mu_;  // one recovery pass at a time, on recover_steps_
  std::unique_ptr<SagaSteps> recover_steps_;

  // opts_.crash_at, armed by the sagas that finished.
  const ArmedCrash<CrashAt> crash_;
  mutable std::mutex stats_mu_;
  SagaStats stats_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stop_ = false;
  std::thread loop_;
};

}  // namespace dw::saga

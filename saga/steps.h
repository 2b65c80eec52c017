// The saga's local transactions on one Postgres connection, each guarded by
// the sub-transaction barrier (saga_barrier, a unique (saga id, step, op)
// row inserted in the same transaction as the step), so that a step that
// arrives twice, or a forward step that arrives after its compensation,
// does nothing:
//   Begin        T1: barrier (place, action); orders row; saga_orders
//                'pending'; saga_log 'pending' with the OrderPlaced payload.
//   Confirm      T3: barrier (confirm, action); 'placed'; log 'done'.
//   Compensate   C1, the compensation of T1: barrier (place, action) first:
//                if that inserts, T1 never ran (a null compensation: nothing
//                to undo, and the row blocks a late T1); then (place,
//                compensate): a conflict is a second delivery; then
//                (confirm, action): a conflict means T3 ran, the pivot is
//                passed and only forward recovery is allowed; otherwise the
//                row blocks a late T3. Then 'cancelled'; log 'compensating'.
//   FinishCompensation   log 'compensated' once OrderCancelled is acknowledged.
//
// Ownership: a saga is driven by one process at a time. Begin takes a
// session-level advisory lock on the saga (inside T1, so the saga is never
// visible unowned) and Release drops it; recovery takes it with Claim, which
// fails while the owner lives and succeeds once its connection is gone (a
// crash). The barrier still makes every step safe if two drivers meet.
//
// Every call: Unavailable when the connection broke (it is reopened on the
// next call; the advisory locks of that session are gone), IOError for any
// other database error; the step's transaction is rolled back then.
// Not thread-safe: one object per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "workload/orders.h"

namespace dw::saga {

enum class Barrier {
  kApplied,           // the step ran now
  kDuplicate,         // it had run already: nothing done
  kBlocked,           // its opposite ran first (a compensation before T1/T3,
                      // or T3 before the compensation): nothing done
  kNullCompensation,  // Compensate found no T1: nothing to undo (row left as a blocker)
};
const char* BarrierName(Barrier b);

// An open saga as recovery sees it.
struct OpenSaga {
  int64_t saga_id = 0;
  std::string state;  // pending | compensating
  bool in_doubt = false;
  std::string payload;  // OrderPlaced
};

class SagaSteps {
 public:
  SagaSteps(std::string dsn, std::string application_name);
  ~SagaSteps();

  Status Begin(const workload::Order& o, const std::string& payload, Barrier* out);
  Status Confirm(int64_t saga_id, Barrier* out);
  Status Compensate(int64_t saga_id, bool in_doubt, Barrier* out);
  Status FinishCompensation(int64_t saga_id);
  // Drops this session's ownership of the saga (Begin's or Claim's lock).
  Status Release(int64_t saga_id);

  // Ids of the sagas left 'pending' or 'compensating', ascending.
  Status ListOpen(std::vector<int64_t>* ids);
  // Takes ownership of an open saga if nobody holds it and reads it (after
  // the lock, so what it reads is final): *claimed false when another
  // process owns it or it is no longer open (then nothing is held).
  Status Claim(int64_t saga_id, bool* claimed, OpenSaga* out);

 private:
  struct Conn;
  Conn* conn(Status* s);
  Status Fail(const std::exception& e, const char* what);
  std::string dsn_;
  std::string app_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace dw::saga

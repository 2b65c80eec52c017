#include "saga/steps.h"

#include <pqxx/pqxx>

namespace dw::saga {
namespace {

// Session advisory locks take one bigint key space with every other user of
// the database (schema creation, relays use small constants): the saga's
// keys carry "SG" in their top bits, far above any order id.
constexpr int64_t kLockTag = int64_t{0x5347} << 48;

std::string LockKey(int64_t saga_id) { return std::to_string(kLockTag | saga_id); }

// INSERT of a barrier row: true when it inserted, false when it was there.
bool InsertBarrier(pqxx::work& tx, int64_t id, const char* step, const char* op) {
  auto r = tx.exec_params(
      "INSERT INTO saga_barrier (saga_id, step, op) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", id,
      step, op);
  return r.affected_rows() == 1;
}

}  // namespace

const char* BarrierName(Barrier b) {
  switch (b) {
    case Barrier::kApplied:
      return "applied";
    case Barrier::kDuplicate:
      return "duplicate";
    case Barrier::kBlocked:
      return "blocked";
    case Barrier::kNullCompensation:
      return "null-compensation";
  }
  return "?";
}

struct SagaSteps::Conn {
  explicit Conn(const std::string& dsn) : c(dsn) {}
  pqxx::connection c;
};

SagaSteps::SagaSteps(std::string dsn, std::string application_name)
    : dsn_(std::move(dsn)), app_(std::move(application_name)) {}
SagaSteps::~SagaSteps() = default;

SagaSteps::Conn* SagaSteps::conn(Status* s) {
  if (!conn_) {
    try {
      conn_ = std::make_unique<Conn>(dsn_);
      pqxx::nontransaction tx{conn_->c};
      tx.exec("SET application_name = " + tx.quote(app_));
    } catch (const std::exception& e) {
      conn_.reset();
      *s = Status::Unavailable(std::string("connecting to Postgres: ") + e.what());
      return nullptr;
    }
  }
  return conn_.get();
}

Status SagaSteps::Fail(const std::exception& e, const char* what) {
  // Whatever broke, the session's state (its locks, an aborted transaction)
  // is not worth keeping: the next call starts on a fresh connection.
  conn_.reset();
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) {
    return Status::Unavailable(std::string(what) + ": " + e.what());
  }
  return Status::IOError(std::string(what) + ": " + e.what());
}

Status SagaSteps::Begin(const workload::Order& o, const std::string& payload, Barrier* out) {
  Status s;
  Conn* c = conn(&s);
  if (!c) return s;
  try {
    pqxx::work tx{c->c};
    // Session-level: it outlives this commit and is held until Release or
    // until the connection ends.
    tx.exec("SELECT pg_advisory_lock(" + LockKey(o.id) + ")");
    if (!InsertBarrier(tx, o.id, "place", "action")) {
      *out = Barrier::kBlocked;  // compensated before it began
      tx.abort();
      return Status::OK();
    }
    tx.exec_params("INSERT INTO orders (id, customer, amount_cents) VALUES ($1, $2, $3)", o.id,
                   o.customer, o.amount_cents);
    tx.exec_params("INSERT INTO saga_orders (order_id, status) VALUES ($1, 'pending')", o.id);
    tx.exec_params(
        "INSERT INTO saga_log (saga_id, step, state, payload) VALUES ($1, 't1', 'pending', $2)",
        o.id, payload);
    tx.commit();
    *out = Barrier::kApplied;
    return Status::OK();
  } catch (const std::exception& e) {
    return Fail(e, "saga T1");
  }
}

Status SagaSteps::Confirm(int64_t id, Barrier* out) {
  Status s;
  Conn* c = conn(&s);
  if (!c) return s;
  try {
    pqxx::work tx{c->c};
    if (!InsertBarrier(tx, id, "confirm", "action")) {
      // Either T3 ran already or the compensation left its blocker: tell them apart.
      bool compensated = !tx.exec_params(
                                "SELECT 1 FROM saga_barrier WHERE saga_id = $1 AND "
                                "step = 'place' AND op = 'compensate'",
                                id)
                              .empty();
      *out = compensated ? Barrier::kBlocked : Barrier::kDuplicate;
      tx.abort();
      return Status::OK();
    }
    tx.exec_params(
        "UPDATE saga_orders SET status = 'placed', updated_at = now() WHERE order_id = $1", id);
    tx.exec_params(
        "UPDATE saga_log SET step = 't3', state = 'done', updated_at = now() WHERE saga_id = $1",
        id);
    tx.commit();
    *out = Barrier::kApplied;
    return Status::OK();
  } catch (const std::exception& e) {
    return Fail(e, "saga T3");
  }
}

Status SagaSteps::Compensate(int64_t id, bool in_doubt, Barrier* out) {
  Status s;
  Conn* c = conn(&s);
  if (!c) return s;
  try {
    pqxx::work tx{c->c};
    if (InsertBarrier(tx, id, "place", "action")) {
      tx.commit();  // keep the row: it blocks a T1 that arrives late
      *out = Barrier::kNullCompensation;
      return Status::OK();
    }
    if (!InsertBarrier(tx, id, "place", "compensate")) {
      *out = Barrier::kDuplicate;
      tx.abort();
      return Status::OK();
    }
    if (!InsertBarrier(tx, id, "confirm", "action")) {
      *out = Barrier::kBlocked;  // T3 ran: the order is placed for good
      tx.abort();
      return Status::OK();
    }
    tx.exec_params(
        "UPDATE saga_orders SET status = 'cancelled', updated_at = now() WHERE order_id = $1", id);
    tx.exec_params(
        "UPDATE saga_log SET step = 'compensate', state = 'compensating', in_doubt = $2, "
        "updated_at = now() WHERE saga_id = $1",
        id, in_doubt);
    tx.commit();
    *out = Barrier::kApplied;
    return Status::OK();
  } catch (const std::exception& e) {
    return Fail(e, "saga compensation");
  }
}

Status SagaSteps::FinishCompensation(int64_t id) {
  Status s;
  Conn* c = conn(&s);
  if (!c) return s;
  try {
    pqxx::work tx{c->c};
    tx.exec_params(
        "UPDATE saga_log SET step = 'compensation-event', state = 'compensated', "
        "updated_at = now() WHERE saga_id = $1 AND state = 'compensating'",
        id);
    tx.commit();
    return Status::OK();
  } catch (const std::exception& e) {
    return Fail(e, "saga compensation event");
  }
}

Status SagaSteps::Release(int64_t id) {
  if (!conn_) return Status::OK();  // the session, and its locks, are gone already
  try {
    pqxx::nontransaction tx{conn_->c};
    tx.exec("SELECT pg_advisory_unlock(" + LockKey(id) + ")");
    return Status::OK();
  } catch (const std::exception& e) {
    return Fail(e, "releasing saga");
  }
}

Status SagaSteps::ListOpen(std::vector<int64_t>* ids) {
  ids->clear();
  Status s;
  Conn* c = conn(&s);
  if (!c) return s;
  try {
    pqxx::nontransaction tx{c->c};
    for (const auto& row : tx.exec("SELECT saga_id FROM saga_log WHERE state IN ('pending', "
                                   "'compensating') ORDER BY saga_id")) {
      ids->push_back(row[0].as<int64_t>());
    }
    return Status::OK();
  } catch (const std::exception& e) {
    return Fail(e, "listing open sagas");
  }
}

Status SagaSteps::Claim(int64_t id, bool* claimed, OpenSaga* out) {
  *claimed = false;
  Status s;
  Conn* c = conn(&s);
  if (!c) return s;
  try {
    pqxx::nontransaction tx{c->c};
    if (!tx.exec1("SELECT pg_try_advisory_lock(" + LockKey(id) + ")")[0].as<bool>()) {
      return Status::OK();  // its owner is alive (or another recoverer has it)
    }
    auto r = tx.exec_params(
        "UPDATE saga_log SET attempts = attempts + 1, updated_at = now() WHERE saga_id = $1 AND "
        "state IN ('pending', 'compensating') RETURNING state, in_doubt, payload",
        id);
    if (r.empty()) {
      tx.exec("SELECT pg_advisory_unlock(" + LockKey(id) + ")");
      return Status::OK();  // finished meanwhile
    }
    out->saga_id = id;
    out->state = r[0][0].as<std::string>();
    out->in_doubt = r[0][1].as<bool>();
    out->payload = r[0][2].as<std::string>();
    *claimed = true;
    return Status::OK();
  } catch (const std::exception& e) {
    return Fail(e, "claiming saga");
  }
}

}  // namespace dw::saga

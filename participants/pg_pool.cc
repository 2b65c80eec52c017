#include "participants/pg_pool.h"

#include <poll.h>

#include <exception>
#include <unordered_map>
#include <utility>

#include "common/dsn.h"

namespace dw {
namespace {

// libpqxx messages span several lines (ERROR, DETAIL, LINE, caret); a Status
// carries one.
std::string FirstLine(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_first_of("\r\n", b);
  std::string line = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
  return line;
}

// Drops the one warning our 2PC usage provokes on purpose: after PREPARE
// TRANSACTION ended the transaction block, libpqxx's commit() still sends
// COMMIT, which the server answers with "there is no transaction in
// progress". Everything else goes on to other handlers.
class NoticeFilter : public pqxx::errorhandler {
 public:
  explicit NoticeFilter(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char msg[]) noexcept override {
    return std::string_view(msg).find("there is no transaction in progress") ==
           std::string_view::npos;
  }
};

std::string WithConnectTimeout(const std::string& dsn, std::chrono::seconds t) {
  if (dsn.find("connect_timeout") != std::string::npos) return dsn;  // the caller chose
  std::string kv = "connect_timeout=" + std::to_string(t.count());
  if (dsn.starts_with("postgresql://") || dsn.starts_with("postgres://")) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + kv;
  }
  return dsn.empty() ? kv : dsn + " " + kv;
}

bool StartsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// An idle connection's socket has nothing to say: a readable socket means
// the server sent something unasked, in practice the FATAL "terminating
// connection" of a shutdown or restart before it closed. Such a connection
// is dropped rather than handed out to fail on first use.
bool IdleLooksAlive(pqxx::connection_base& c) {
  if (!c.is_open()) return false;
  int fd = c.sock();
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  int r = poll(&p, 1, 0);
  return r == 0;
}

}  // namespace

struct PgPool::Conn {
  std::unique_ptr<PgConnection> conn;
  std::unique_ptr<NoticeFilter> filter;  // declared after conn: unregisters first
  std::unordered_map<std::string, std::string> statements;  // sql -> prepared name
};

Status PgPool::Create(const Options& opts, std::shared_ptr<PgPool>* out) {
  if (opts.max_connections < 1) return Status::InvalidArgument("max_connections must be >= 1");
  if (opts.connect_timeout.count() < 1) {
    return Status::InvalidArgument("connect_timeout must be >= 1 s");  // libpq: 0 means forever
  }
  out->reset(new PgPool(opts));
  return Status::OK();
}

PgPool::PgPool(const Options& opts)
    : opts_(opts),
      dsn_(WithConnectTimeout(opts.dsn, opts.connect_timeout)),
      redacted_dsn_(RedactDsn(opts.dsn)) {}

PgPool::~PgPool() = default;

Status PgPool::Open(std::unique_ptr<Conn>* out) {
  auto c = std::make_unique<Conn>();
  try {
    c->conn = std::make_unique<PgConnection>(dsn_);
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot connect to Postgres (" + redacted_dsn_ +
                               "): " + FirstLine(e.what()));
  }
  c->filter = std::make_unique<NoticeFilter>(*c->conn);
  try {
    pqxx::nontransaction tx(*c->conn);
    tx.exec0("SET statement_timeout = " + std::to_string(opts_.statement_timeout.count()));
    tx.exec0("SET lock_timeout = " + std::to_string(opts_.lock_timeout.count()));
    if (!opts_.application_name.empty()) {
      tx.exec0("SET application_name = " + tx.quote(opts_.application_name));
    }
  } catch (const std::exception& e) {
    return Status::Unavailable("setting up a Postgres session (" + redacted_dsn_ +
                               "): " + FirstLine(e.what()));
  }
  *out = std::move(c);
  return Status::OK();
}

Status PgPool::Acquire(Lease* out) {
  *out = Lease();
  const auto deadline = std::chrono::steady_clock::now() + opts_.acquire_timeout;
  std::unique_ptr<Conn> dead;  // destroyed outside the lock
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<Conn> c = std::move(idle_.back());
      idle_.pop_back();
      // The liveness check is a system call: made outside the lock, which
      // every call of every transaction takes twice, so that the others do
      // not queue (and sleep) behind it.
      l.unlock();
      dead.reset();
      const bool alive = IdleLooksAlive(*c->conn);
      if (alive) {
        out->pool_ = shared_from_this();
        out->conn_ = std::move(c);
        return Status::OK();
      }
      l.lock();
      --open_;
      ++dropped_total_;
      dead = std::move(c);
    }
    if (open_ < opts_.max_connections) {
      ++open_;
      l.unlock();
      dead.reset();
      std::unique_ptr<Conn> c;
      Status s = Open(&c);
      l.lock();
      if (!s.ok()) {
        --open_;
        cv_.notify_one();
        return s;
      }
      ++opened_total_;
      out->pool_ = shared_from_this();
      out->conn_ = std::move(c);
      return Status::OK();
    }
    if (cv_.wait_until(l, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= opts_.max_connections) {
      return Status::Timeout("all " + std::to_string(opts_.max_connections) +
                             " Postgres connections stayed busy for " +
                             std::to_string(opts_.acquire_timeout.count()) + " ms");
    }
  }
}

void PgPool::Release(std::unique_ptr<Conn> c, bool broken) {
  if (!broken && !c->conn->is_open()) broken = true;
  std::unique_ptr<Conn> dead;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (broken) {
      --open_;
      ++dropped_total_;
      dead = std::move(c);
    } else {
      idle_.push_back(std::move(c));
    }
  }
  cv_.notify_one();
}

PgPool::Stats PgPool::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  Stats s;
  s.open = open_;
  s.idle = static_cast<int>(idle_.size());
  s.opened_total = opened_total_;
  s.dropped_total = dropped_total_;
  return s;
}

PgPool::Lease::Lease() = default;
PgPool::Lease::Lease(Lease&& o) noexcept
    : pool_(std::move(o.pool_)), conn_(std::move(o.conn_)), broken_(o.broken_) {
  o.broken_ = false;
}
PgPool::Lease& PgPool::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    Reset();
    pool_ = std::move(o.pool_);
    conn_ = std::move(o.conn_);
    broken_ = o.broken_;
    o.broken_ = false;
  }
  return *this;
}
PgPool::Lease::~Lease() { Reset(); }

void PgPool::Lease::Reset() {
  if (conn_) pool_->Release(std::move(conn_), broken_);
  pool_.reset();
  broken_ = false;
}

pqxx::connection_base& PgPool::Lease::conn() { return *conn_->conn; }

PGconn* PgPool::Lease::raw() { return conn_->conn->raw(); }

std::string PgPool::Lease::Prepared(const std::string& sql) {
  auto it = conn_->statements.find(sql);
  if (it != conn_->statements.end()) return it->second;
  if (conn_->statements.size() >= pool_->opts_.max_prepared_statements) return "";
  std::string name = "dw_stmt_" + std::to_string(conn_->statements.size());
  conn_->conn->prepare(name, sql);  // sent to the server lazily, on first exec
  conn_->statements.emplace(sql, name);
  return name;
}

namespace {

// What a SQLSTATE means to a caller (the table above StatusFromPgException
// in pg_pool.h); sets *broken for the states after which the session
// cannot be trusted.
Status FromSqlState(const std::string& st, const std::string& m, bool* broken) {
  if (st == "57014" || st == "55P03") return Status::Timeout(m);
  if (StartsWith(st, "08") || StartsWith(st, "57P0")) {
    *broken = true;
    return Status::Unavailable(m);
  }
  if (st == "40003") {
    *broken = true;
    return Status::InDoubt(m);
  }
  if (st == "53100") return Status::NoSpace(m);
  return Status::Aborted(m);
}

}  // namespace

Status StatusFromPgException(PgPool::Lease* lease, const std::string& context,
                             std::string* sqlstate) {
  auto broken = [&] {
    if (lease && *lease) lease->MarkBroken();
  };
  auto msg = [&](const std::exception& e, const std::string& state) {
    std::string m = context + ": " + FirstLine(e.what());
    if (!state.empty()) m += " [SQLSTATE " + state + "]";
    return m;
  };
  if (sqlstate) sqlstate->clear();
  Status result;
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    broken();
    result = Status::Unavailable(msg(e, ""));
  } catch (const pqxx::sql_error& e) {
    const std::string& st = e.sqlstate();
    if (sqlstate) *sqlstate = st;
    bool lost = false;
    result = FromSqlState(st, msg(e, st), &lost);
    if (lost) broken();
  } catch (const pqxx::in_doubt_error& e) {
    broken();
    result = Status::InDoubt(msg(e, ""));
  } catch (const pqxx::statement_completion_unknown& e) {
    broken();
    result = Status::InDoubt(msg(e, "40003"));
  } catch (const pqxx::transaction_rollback& e) {
    result = Status::Aborted(msg(e, ""));
  } catch (const pqxx::usage_error& e) {
    result = Status::InvalidArgument(msg(e, ""));
  } catch (const pqxx::argument_error& e) {
    result = Status::InvalidArgument(msg(e, ""));
  } catch (const pqxx::conversion_error& e) {
    result = Status::InvalidArgument(msg(e, ""));
  } catch (const std::exception& e) {
    result = Status::IOError(msg(e, ""));
  } catch (...) {
    result = Status::IOError(context + ": unknown exception");
  }
  // Whatever the error, a connection that did not survive must not be reused.
  if (lease && *lease && !lease->conn().is_open()) lease->MarkBroken();
  return result;
}

Status StatusFromPgResult(PgPool::Lease* lease, const std::string& context, const PGresult* r,
                          std::string* sqlstate) {
  const char* field = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const std::string st = field ? field : "";
  if (sqlstate) *sqlstate = st;
  std::string m = context + ": " + FirstLine(PQresultErrorMessage(r));
  if (!st.empty()) m += " [SQLSTATE " + st + "]";
  PGconn* c = lease && *lease ? lease->raw() : nullptr;
  const bool bad = c == nullptr || PQstatus(c) == CONNECTION_BAD;
  bool lost = false;
  Status result = st.empty() && bad ? Status::Unavailable(m) : FromSqlState(st, m, &lost);
  if ((lost || bad) && lease && *lease) lease->MarkBroken();
  return result;
}

Status StatusFromPgConnection(PgPool::Lease* lease, const std::string& context) {
  PGconn* c = lease && *lease ? lease->raw() : nullptr;
  std::string line = c ? FirstLine(PQerrorMessage(c)) : "";
  if (lease && *lease) lease->MarkBroken();
  return Status::Unavailable(context + ": " + (line.empty() ? "connection lost" : line));
}

}  // namespace dw

#include "outbox/wakeup.h"

#include <thread>

#include <pqxx/pqxx>

#include "outbox/pg_util.h"

namespace dw::outbox {
namespace {

class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel)
      : pqxx::notification_receiver(c, channel) {}
  void operator()(const std::string&, int) override { ++count; }
  uint64_t count = 0;
};

}  // namespace

struct Wakeup::Conn {
  explicit Conn(const std::string& dsn) : c(WithConnectTimeout(dsn)) {}
  pqxx::connection c;
  std::unique_ptr<Receiver> receiver;  // destroyed first: it UNLISTENs
  ~Conn() {
    try {
      receiver.reset();
    } catch (...) {
    }
  }
};

Wakeup::Wakeup(std::string dsn, std::string channel, bool listen)
    : dsn_(std::move(dsn)), channel_(std::move(channel)), listen_(listen) {}

Wakeup::~Wakeup() = default;

void Wakeup::Connect() {
  if (!listen_ || conn_) return;
  try {
    auto c = std::make_unique<Conn>(dsn_);
    c->receiver = std::make_unique<Receiver>(c->c, channel_);
    c->c.get_notifs();  // sends the LISTEN now rather than lazily
    conn_ = std::move(c);
  } catch (const std::exception&) {
    conn_.reset();
  }
}

bool Wakeup::Wait(std::chrono::milliseconds timeout) {
  if (listen_ && !conn_) Connect();
  if (!conn_) {
    std::this_thread::sleep_for(timeout);
    return false;
  }
  try {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    int n = conn_->c.await_notification(us / 1000000, us % 1000000);
    if (n > 0) {
      // Take whatever else queued up: one wake-up is enough for all of them.
      conn_->c.get_notifs();
      notifications_ += n;
      return true;
    }
    if (!conn_->c.is_open()) conn_.reset();
    return false;
  } catch (const std::exception&) {
    conn_.reset();  // never reuse a broken connection (see API-FACTS)
    return false;
  }
}

}  // namespace dw::outbox

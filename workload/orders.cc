#include "workload/orders.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>

#include "participants/pg_schema.h"
#include "workload/stock.h"

namespace dw::workload {
namespace {
constexpr int64_t kBlock = 1000;

// splitmix64: a cheap, well-mixed function of (seed, i) so a run is reproducible.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status EnsureOrdersSchema(const std::string& dsn) {
  return ApplyDdl(dsn, 7355608,
                  {"CREATE TABLE IF NOT EXISTS orders ("
                   " id bigint PRIMARY KEY,"
                   " customer text NOT NULL,"
                   " amount_cents bigint NOT NULL,"
                   " created_at timestamptz NOT NULL DEFAULT now())",
                   "CREATE SEQUENCE IF NOT EXISTS orders_id_seq INCREMENT BY 1000 START WITH 1"},
                  "orders schema");
}

namespace {
// Set before the load starts and read by its workers (see orders.h): the
// workers' threads are created after the write, which orders it before them.
std::optional<std::string>& CustomerOverride() {
  static std::optional<std::string> value;
  return value;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
size_t Utf8Error(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > n) return i;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}
}  // namespace

Status ValidateCustomer(const std::string& customer) {
  size_t nul = customer.find('\0');
  if (nul != std::string::npos) {
    return Status::InvalidArgument(
        "the customer has a NUL byte at offset " + std::to_string(nul) +
        ": Postgres text cannot store it (it would be cut there), so it is refused");
  }
  size_t bad = Utf8Error(customer);
  if (bad != std::string::npos) {
    return Status::InvalidArgument("the customer is not valid UTF-8 (byte offset " +
                                   std::to_string(bad) + ")");
  }
  return Status::OK();
}

Status SetCustomerOverride(const std::string& customer) {
  Status s = ValidateCustomer(customer);
  if (s.ok()) CustomerOverride() = customer;
  return s;
}

void ClearCustomerOverride() { CustomerOverride().reset(); }

Order MakeOrder(int64_t id, int64_t i, uint64_t seed) {
  uint64_t r = Mix(seed ^ Mix(static_cast<uint64_t>(i)));
  Order o;
  o.id = id;
  const auto& fixed = CustomerOverride();
  o.customer = fixed ? *fixed : "customer-" + std::to_string(r % 1000);
  o.amount_cents = 100 + static_cast<int64_t>((r >> 20) % 100000);
  o.placed_at_us = NowMicros();
  // A stream of its own: customer and amount stay what they were before
  // products existed, whatever the hot-rows setting (the constant is
  // "product" in ASCII).
  o.product = DrawProduct(Mix(r ^ 0x70726F64756374ull));
  return o;
}

SqlStatement InsertOrderStatement(const Order& o) {
  return SqlStatement{"INSERT INTO orders (id, customer, amount_cents) VALUES ($1, $2, $3)",
                      {std::to_string(o.id), o.customer, std::to_string(o.amount_cents)}};
}

std::string MessageIdFor(int64_t order_id) { return "order-" + std::to_string(order_id); }

std::string OrderPlacedPayload(const Order& o) {
  nlohmann::json j = {{"type", "OrderPlaced"},
                      {"order_id", o.id},
                      {"customer", o.customer},
                      {"amount_cents", o.amount_cents},
                      {"placed_at_us", o.placed_at_us}};
  return j.dump();
}

OutMessage OrderPlacedMessage(const Order& o, const std::string& topic) {
  return OutMessage{topic, MessageIdFor(o.id), std::to_string(o.id), OrderPlacedPayload(o)};
}

struct OrderIdAllocator::Conn {
  explicit Conn(const std::string& dsn) : c(dsn) {}
  pqxx::connection c;
};

OrderIdAllocator::OrderIdAllocator(std::string dsn) : dsn_(std::move(dsn)) {}
OrderIdAllocator::~OrderIdAllocator() = default;

Status OrderIdAllocator::Next(int64_t* id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (next_ >= end_) {
    try {
      if (!conn_) conn_ = std::make_unique<Conn>(dsn_);
      pqxx::nontransaction tx{conn_->c};
      int64_t start = tx.exec1("SELECT nextval('orders_id_seq')")[0].as<int64_t>();
      next_ = start;
      end_ = start + kBlock;
    } catch (const std::exception& e) {
      conn_.reset();  // a broken connection is not reused
      return Status::Unavailable(std::string("allocating order ids: ") + e.what());
    }
  }
  *id = next_++;
  return Status::OK();
}

}  // namespace dw::workload

// Contention for the "place order" operation (`--hot-rows N`, `--hot-skew S`
// of every load command). Without it every order only INSERTs a new row, so
// no transaction ever waits for another's locks, and 2PC's real cost under
// contention (a prepared transaction keeps its row locks from PREPARE
// TRANSACTION until COMMIT PREPARED, across a broker round trip and a
// decision-log write) never shows. With it each order also reserves one unit
// of a product drawn from 1..N:
//   UPDATE stock SET reserved = reserved + 1 WHERE product = $1
// inside its business transaction: the prepared transaction of the order's
// home Postgres shard under 2PC, the local transaction of the INSERT for the
// outbox and the floor. The reservation is not part of the OrderPlaced event:
// the message, the outbox row and verify stay exactly as without it.
//
// The product is drawn in MakeOrder (orders.h) from the process-wide setting
// below, for the same reason as the customer override there: every approach
// builds its orders deep inside its own library.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "participants/participant.h"
#include "workload/orders.h"

namespace dw::workload {

inline constexpr const char* kStockTable = "stock";

// The most products `--hot-rows` accepts: the load command fills the stock
// table with every one of them before the load starts (10 million rows take
// a few seconds), and `product` is an int column.
inline constexpr int64_t kMaxHotRows = 10'000'000;

struct HotRows {
  int64_t rows = 0;  // products 1..rows; 0 = orders reserve nothing
  double skew = 0;   // 0 = uniform; > 0 = Zipf exponent (product 1 the hottest)
};

// InvalidArgument, naming the flag, when rows is outside 0..kMaxHotRows,
// skew is negative or not finite, or skew > 0 with rows == 0 (nothing to
// draw from).
Status ValidateHotRows(const HotRows& h);

// Draws products from a HotRows setting. Immutable once built: Draw may be
// called from any thread.
class ProductDraw {
 public:
  explicit ProductDraw(const HotRows& h);  // h must pass ValidateHotRows

  // The product for the uniformly distributed 64-bit value `r`: 0 when rows
  // is 0, else in 1..rows. A pure function of `r` (Zipf draws consume further
  // values derived from `r` when they reject), so a run is reproducible from
  // its seed and operation indices.
  int64_t Draw(uint64_t r) const;

  const HotRows& setting() const { return h_; }

 private:
  // Zipf by rejection-inversion (W. Hörmann, G. Derflinger, "Rejection-
  // inversion to generate variates from monotone discrete distributions",
  // 1996): O(1) memory and expected O(1) time whatever the number of
  // products, where a table of the cumulative distribution would take
  // 8 bytes per product.
  double H(double x) const;                 // x^-s
  double HIntegral(double x) const;         // the integral of H, shifted
  double HIntegralInverse(double x) const;  // its inverse
  int64_t DrawZipf(uint64_t r) const;

  HotRows h_;
  double h_integral_x1_ = 0;
  double h_integral_n_ = 0;
  double squeeze_ = 0;  // accepts k at once when k - x <= squeeze_
};

// The process-wide setting MakeOrder draws from. Set it before the load
// starts, never while orders are being made (the workers' threads, created
// after the write, then see it). InvalidArgument, nothing changed, when the
// setting is invalid.
Status SetHotRows(const HotRows& h);
void ClearHotRows();
HotRows CurrentHotRows();
// The product for `r` under the process-wide setting (0 when it is off).
int64_t DrawProduct(uint64_t r);

// Creates `stock` if absent and adds the products 1..`products` it lacks,
// leaving existing rows and their reservations alone. Idempotent; a no-op
// (no connection) when `products` is 0. Rows already present are skipped
// by a snapshot read, not by ON CONFLICT alone, so that a transaction left
// prepared holding a product's row lock does not block the next run's
// set-up (an INSERT that meets a locked conflicting row waits for it).
Status EnsureStockTable(const std::string& dsn, int64_t products);

// "UPDATE stock SET reserved = reserved + 1 WHERE product = $<param>": the
// reservation with its product as parameter number `param`, for callers
// that splice it into a larger statement (the outbox writer's one-statement
// transaction).
std::string ReserveStockSql(int param);

// The reservation of `o.product` ($1). Only for orders with a product (> 0).
SqlStatement ReserveStockStatement(const Order& o);

}  // namespace dw::workload

#include "workload/stock.h"

#include <cmath>
#include <optional>

#include "participants/pg_schema.h"

namespace dw::workload {
namespace {

// splitmix64's step: the further uniform values a rejected Zipf draw needs,
// derived from the draw's own value so the result stays a function of it.
uint64_t NextValue(uint64_t* state) {
  uint64_t x = (*state += 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A double uniform in [0, 1) from the top 53 bits.
double Unit(uint64_t r) { return static_cast<double>(r >> 11) * 0x1.0p-53; }

// log1p(x) / x and expm1(x) / x, with their series near 0 where the
// division loses precision (and at 0, where it is undefined): s = 1 is
// exactly that case.
double Log1pOverX(double x) {
  return std::fabs(x) > 1e-8 ? std::log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}
double Expm1OverX(double x) {
  return std::fabs(x) > 1e-8 ? std::expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x));
}

// Set before the load starts and read by its workers (see stock.h).
std::optional<ProductDraw>& Setting() {
  static std::optional<ProductDraw> value;
  return value;
}

}  // namespace

Status ValidateHotRows(const HotRows& h) {
  if (h.rows < 0 || h.rows > kMaxHotRows) {
    return Status::InvalidArgument("--hot-rows " + std::to_string(h.rows) +
                                   " is out of range: want 0 (off) to " +
                                   std::to_string(kMaxHotRows) + " products");
  }
  if (!std::isfinite(h.skew) || h.skew < 0) {
    return Status::InvalidArgument("--hot-skew " + std::to_string(h.skew) +
                                   " is out of range: want 0 (uniform) or a Zipf exponent > 0");
  }
  if (h.skew > 0 && h.rows == 0) {
    return Status::InvalidArgument(
        "--hot-skew needs --hot-rows N > 0: the products 1..N it draws from");
  }
  return Status::OK();
}

ProductDraw::ProductDraw(const HotRows& h) : h_(h) {
  if (h_.rows <= 0 || h_.skew <= 0) return;
  h_integral_x1_ = HIntegral(1.5) - 1;
  h_integral_n_ = HIntegral(static_cast<double>(h_.rows) + 0.5);
  squeeze_ = 2 - HIntegralInverse(HIntegral(2.5) - H(2));
}

double ProductDraw::H(double x) const { return std::exp(-h_.skew * std::log(x)); }

double ProductDraw::HIntegral(double x) const {
  const double log_x = std::log(x);
  return Expm1OverX((1 - h_.skew) * log_x) * log_x;
}

double ProductDraw::HIntegralInverse(double x) const {
  double t = x * (1 - h_.skew);
  if (t < -1) t = -1;  // rounding can push it just past the domain of log1p
  return std::exp(Log1pOverX(t) * x);
}

int64_t ProductDraw::DrawZipf(uint64_t r) const {
  uint64_t state = r;
  for (uint64_t u64 = r;; u64 = NextValue(&state)) {
    // u is uniform in (h_integral_x1_, h_integral_n_]; its inverse image x
    // falls in [0.5, rows + 0.5], and k is x rounded to a product.
    const double u = h_integral_n_ + Unit(u64) * (h_integral_x1_ - h_integral_n_);
    const double x = HIntegralInverse(u);
    int64_t k = 1;
    if (x + 0.5 >= static_cast<double>(h_.rows)) {
      k = h_.rows;
    } else if (x >= 1) {
      k = static_cast<int64_t>(x + 0.5);
    }
    if (static_cast<double>(k) - x <= squeeze_ ||
        u >= HIntegral(static_cast<double>(k) + 0.5) - H(static_cast<double>(k))) {
      return k;
    }
  }
}

int64_t ProductDraw::Draw(uint64_t r) const {
  if (h_.rows <= 0) return 0;
  if (h_.skew <= 0) return 1 + static_cast<int64_t>(r % static_cast<uint64_t>(h_.rows));
  return DrawZipf(r);
}

Status SetHotRows(const HotRows& h) {
  Status s = ValidateHotRows(h);
  if (!s.ok()) return s;
  if (h.rows == 0) {
    Setting().reset();
  } else {
    Setting().emplace(h);
  }
  return Status::OK();
}

void ClearHotRows() { Setting().reset(); }

HotRows CurrentHotRows() { return Setting() ? Setting()->setting() : HotRows{}; }

int64_t DrawProduct(uint64_t r) { return Setting() ? Setting()->Draw(r) : 0; }

Status EnsureStockTable(const std::string& dsn, int64_t products) {
  if (products <= 0) return Status::OK();
  Status s = ValidateHotRows(HotRows{products, 0});
  if (!s.ok()) return s;
  const std::string n = std::to_string(products);
  return ApplyDdl(dsn, 7355611,
                  {"CREATE TABLE IF NOT EXISTS stock ("
                   " product int PRIMARY KEY,"
                   " reserved bigint NOT NULL DEFAULT 0)",
                   "INSERT INTO stock (product) SELECT g FROM generate_series(1, " + n +
                       ") AS g WHERE NOT EXISTS (SELECT 1 FROM stock s WHERE s.product = g)"
                       " ON CONFLICT DO NOTHING"},
                  "stock table");
}

std::string ReserveStockSql(int param) {
  return "UPDATE stock SET reserved = reserved + 1 WHERE product = $" + std::to_string(param);
}

SqlStatement ReserveStockStatement(const Order& o) {
  return SqlStatement{ReserveStockSql(1), {std::to_string(o.product)}};
}

}  // namespace dw::workload

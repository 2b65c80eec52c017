// The hot-rows workload in process (workload/stock.h): the product draw
// (uniform and Zipf), its determinism from the run's seed and operation
// index, the checks of the setting, and where the reservation goes in an
// order's 2PC work. No Postgres, no broker.
#include <cmath>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/order_work.h"
#include "workload/orders.h"
#include "workload/stock.h"

namespace dw::workload {
namespace {

// splitmix64 over the index: inputs for ProductDraw independent of MakeOrder.
uint64_t Input(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull + 0x1234567ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Draw frequencies of products 1..rows over `n` inputs.
std::vector<double> Frequencies(const HotRows& h, int n) {
  ProductDraw d(h);
  std::vector<double> f(h.rows + 1, 0.0);
  for (int i = 0; i < n; ++i) {
    int64_t p = d.Draw(Input(i));
    EXPECT_GE(p, 1);
    EXPECT_LE(p, h.rows);
    if (p >= 1 && p <= h.rows) f[p] += 1.0 / n;
  }
  return f;
}

// The exact Zipf probabilities k^-s / sum_j j^-s.
std::vector<double> ZipfPmf(int64_t rows, double s) {
  std::vector<double> p(rows + 1, 0.0);
  double total = 0;
  for (int64_t k = 1; k <= rows; ++k) total += std::pow(static_cast<double>(k), -s);
  for (int64_t k = 1; k <= rows; ++k) p[k] = std::pow(static_cast<double>(k), -s) / total;
  return p;
}

// Restores "off" whatever a test set, so tests do not leak the process-wide setting.
class HotRowsSetting : public ::testing::Test {
 protected:
  void TearDown() override { ClearHotRows(); }
};

TEST_F(HotRowsSetting, ZipfSkewOneOverTenFollowsThePmf) {
  const HotRows h{10, 1.0};
  std::vector<double> f = Frequencies(h, 200000);
  std::vector<double> pmf = ZipfPmf(10, 1.0);
  for (int k = 2; k <= 10; ++k) EXPECT_GT(f[1], f[k]) << "product 1 is the hottest";
  for (int k = 1; k < 10; ++k) EXPECT_GT(f[k], f[k + 1]) << k;
  // 200,000 draws: a standard deviation under 0.0012 per product.
  for (int k = 1; k <= 10; ++k) EXPECT_NEAR(f[k], pmf[k], 0.006) << "product " << k;
}

TEST_F(HotRowsSetting, ZipfOtherExponentsFollowThePmf) {
  for (double s : {0.3, 0.99, 2.0, 3.5}) {
    SCOPED_TRACE(s);
    std::vector<double> f = Frequencies(HotRows{20, s}, 100000);
    std::vector<double> pmf = ZipfPmf(20, s);
    for (int k = 1; k <= 20; ++k) EXPECT_NEAR(f[k], pmf[k], 0.008) << "product " << k;
  }
}

TEST_F(HotRowsSetting, ZipfOverManyProductsStaysInRange) {
  // O(1) memory whatever the number of products; extreme inputs stay in range.
  ProductDraw d(HotRows{kMaxHotRows, 1.1});
  for (uint64_t r : {uint64_t{0}, ~uint64_t{0}, uint64_t{1} << 63, Input(3)}) {
    int64_t p = d.Draw(r);
    EXPECT_GE(p, 1);
    EXPECT_LE(p, kMaxHotRows);
  }
  ProductDraw one(HotRows{1, 2.0});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(one.Draw(Input(i)), 1);
}

TEST_F(HotRowsSetting, UniformCoversEveryProductEvenly) {
  std::vector<double> f = Frequencies(HotRows{10, 0}, 100000);
  for (int k = 1; k <= 10; ++k) EXPECT_NEAR(f[k], 0.1, 0.006) << "product " << k;
}

TEST_F(HotRowsSetting, MakeOrderDrawsFromTheSettingDeterministically) {
  ASSERT_TRUE(SetHotRows(HotRows{10, 1.0}).ok());
  std::vector<int64_t> a, b, other_seed;
  std::map<int64_t, int> count;
  for (int64_t i = 0; i < 5000; ++i) {
    a.push_back(MakeOrder(i, i, 42).product);
    b.push_back(MakeOrder(i + 1000, i, 42).product);  // the id plays no part
    other_seed.push_back(MakeOrder(i, i, 43).product);
    ++count[a.back()];
  }
  EXPECT_EQ(a, b) << "same seed and index, same product";
  EXPECT_NE(a, other_seed);
  for (const auto& [product, n] : count) {
    EXPECT_GE(product, 1);
    EXPECT_LE(product, 10);
    if (product != 1) {
      EXPECT_GT(count[1], n) << "product 1 is drawn most often";
    }
  }
}

TEST_F(HotRowsSetting, TheProductLeavesTheRestOfTheOrderAndItsEventAlone) {
  Order off = MakeOrder(7, 3, 42);
  EXPECT_EQ(off.product, 0);
  ASSERT_TRUE(SetHotRows(HotRows{5, 0}).ok());
  EXPECT_EQ(CurrentHotRows().rows, 5);
  Order on = MakeOrder(7, 3, 42);
  EXPECT_GE(on.product, 1);
  EXPECT_LE(on.product, 5);
  EXPECT_EQ(on.customer, off.customer);
  EXPECT_EQ(on.amount_cents, off.amount_cents);
  on.placed_at_us = off.placed_at_us;
  EXPECT_EQ(OrderPlacedPayload(on), OrderPlacedPayload(off));
  EXPECT_EQ(OrderPlacedPayload(on).find("product"), std::string::npos);
  ClearHotRows();
  EXPECT_EQ(MakeOrder(7, 3, 42).product, 0);
  EXPECT_EQ(CurrentHotRows().rows, 0);
}

TEST_F(HotRowsSetting, BadSettingsAreRefusedAndChangeNothing) {
  ASSERT_TRUE(SetHotRows(HotRows{4, 0.5}).ok());
  for (const HotRows& bad : {HotRows{0, 1.0}, HotRows{-1, 0}, HotRows{kMaxHotRows + 1, 0},
                             HotRows{3, -0.5}, HotRows{3, std::nan("")}, HotRows{3, INFINITY}}) {
    Status s = SetHotRows(bad);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument)
        << bad.rows << " " << bad.skew << ": " << s.ToString();
    EXPECT_EQ(CurrentHotRows().rows, 4);
    EXPECT_EQ(CurrentHotRows().skew, 0.5);
  }
  EXPECT_NE(ValidateHotRows(HotRows{0, 1.0}).message().find("--hot-rows"), std::string::npos);
  EXPECT_TRUE(ValidateHotRows(HotRows{0, 0}).ok());
  EXPECT_TRUE(ValidateHotRows(HotRows{kMaxHotRows, 0}).ok());
}

TEST_F(HotRowsSetting, TheReservationStatement) {
  Order o;
  o.product = 17;
  SqlStatement st = ReserveStockStatement(o);
  EXPECT_EQ(st.sql, "UPDATE stock SET reserved = reserved + 1 WHERE product = $1");
  ASSERT_EQ(st.params.size(), 1u);
  EXPECT_EQ(st.params[0], "17");
  EXPECT_EQ(ReserveStockSql(9), "UPDATE stock SET reserved = reserved + 1 WHERE product = $9");
}

TEST_F(HotRowsSetting, TwoPhaseWorkReservesOnTheHomeShardAfterTheInsert) {
  Order o = MakeOrder(7, 0, 1);
  o.product = 2;
  // One Postgres database: member 0, then the broker.
  coord::Topology one{{0}, 1, 2};
  std::vector<Work> w = coord::PlaceOrderWork(o, one);
  ASSERT_EQ(w[0].statements.size(), 2u);
  EXPECT_EQ(w[0].statements[0].sql, InsertOrderStatement(o).sql);
  EXPECT_EQ(w[0].statements[1].sql, ReserveStockStatement(o).sql);
  EXPECT_EQ(w[1].messages.size(), 1u);
  EXPECT_TRUE(w[1].statements.empty());
  // Three shards: the reservation travels with the orders row, whichever
  // shard holds the customer's ledger.
  coord::Topology three{{0, 1, 2}, 3, 4};
  for (int64_t id = 100; id < 130; ++id) {
    o.id = id;
    w = coord::PlaceOrderWork(o, three);
    const size_t home = coord::HomeShard(id, 3);
    int reservations = 0;
    for (size_t m = 0; m < 3; ++m) {
      for (const auto& st : w[m].statements) {
        if (st.sql == ReserveStockStatement(o).sql) {
          ++reservations;
          EXPECT_EQ(m, home) << "order " << id;
        }
      }
    }
    EXPECT_EQ(reservations, 1) << "order " << id;
  }
  // No product, no reservation: the work is what it always was.
  o.product = 0;
  w = coord::PlaceOrderWork(o, one);
  EXPECT_EQ(w[0].statements.size(), 1u);
}

}  // namespace
}  // namespace dw::workload

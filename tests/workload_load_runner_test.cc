// LoadRunner's stopping rules and accounting, in process: every index runs
// once, outcomes are counted as the operation reported them, batches hand
// out consecutive indexes, and --min-transactions carries a timed run on.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "workload/load_runner.h"

namespace dw::workload {
namespace {

TEST(LoadRunner, EveryIndexRunsOnceAndOutcomesAreCounted) {
  LoadOptions o;
  o.transactions = 100;
  o.concurrency = 4;
  o.progress = false;
  o.record_samples = true;
  std::mutex mu;
  std::multiset<int64_t> seen;
  LoadSummary s = RunLoad(o, [&](int, int64_t i) {
    std::lock_guard<std::mutex> l(mu);
    seen.insert(i);
    return i % 10 == 0 ? Outcome::kAborted : i % 10 == 1 ? Outcome::kFailed : Outcome::kCommitted;
  });
  ASSERT_EQ(seen.size(), 100u);
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
  EXPECT_EQ(s.committed, 80u);
  EXPECT_EQ(s.aborted, 10u);
  EXPECT_EQ(s.failed, 10u);
  EXPECT_EQ(s.samples.size(), 100u);
  EXPECT_EQ(s.latency.count(), 100u);
}

// Batches of consecutive indexes, concurrency / batch workers (rounded up),
// the last batch cut at the count; each operation's outcome as set.
TEST(LoadRunner, BatchesHandOutConsecutiveIndexesToConcurrencyOverBatchWorkers) {
  LoadOptions o;
  o.transactions = 10;
  o.concurrency = 8;
  o.progress = false;
  std::mutex mu;
  std::vector<std::vector<int64_t>> batches;
  std::set<int> workers;
  LoadSummary s;
  ASSERT_TRUE(RunLoad(
                  o, 4,
                  [&](int w, const std::vector<int64_t>& idx, std::vector<Outcome>* outs,
                      std::vector<int64_t>* keys) {
                    ASSERT_EQ(outs->size(), idx.size());
                    ASSERT_EQ(keys->size(), idx.size());
                    for (size_t k = 0; k < idx.size(); ++k) {
                      (*outs)[k] = idx[k] % 2 == 0 ? Outcome::kCommitted : Outcome::kAborted;
                    }
                    std::lock_guard<std::mutex> l(mu);
                    batches.push_back(idx);
                    workers.insert(w);
                  },
                  &s)
                  .ok());
  std::sort(batches.begin(), batches.end());
  EXPECT_EQ(batches, (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
  EXPECT_LE(workers.size(), 2u) << "8 in flight = 2 workers of 4";
  EXPECT_EQ(s.committed, 5u);
  EXPECT_EQ(s.aborted, 5u);
  EXPECT_EQ(s.latency.count(), 10u);
}

// A timed run whose operations are slower than its duration goes on until
// min_transactions completed.
TEST(LoadRunner, MinTransactionsCarriesATimedRunOn) {
  LoadOptions o;
  o.transactions = 0;
  o.concurrency = 2;
  o.duration = std::chrono::milliseconds(20);
  o.min_transactions = 12;
  o.progress = false;
  std::atomic<int> ran{0};
  LoadSummary s = RunLoad(o, [&](int, int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ++ran;
    return Outcome::kCommitted;
  });
  EXPECT_GE(s.committed, 12u);
  EXPECT_EQ(s.committed, static_cast<uint64_t>(ran.load()));
}

}  // namespace
}  // namespace dw::workload

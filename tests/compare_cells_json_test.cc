// The pieces compare's cells are built of, as results.json holds them: the
// typed writers (cost, percentiles, CDFs, operation windows, timelines, the
// history checker's verdict) write the keys, nulls and integers
// docs/compare-results.md describes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "compare/cost.h"
#include "compare/history.h"
#include "compare/samples.h"

namespace dw::compare {
namespace {

using json = nlohmann::json;

// A field as the key of an object would hold it.
template <class T>
json AsJson(const results::Field<T>& f) {
  json o = json::object();
  results::Put(&o, "x", f);
  return o.contains("x") ? o["x"] : json("absent");
}

TEST(CompareCellsJson, CostPerOperation) {
  CostSnapshot before{100, 10, 5, 0, 1, 0}, after{300, 30, 15, 4, 3, 8};
  EXPECT_EQ(results::Write(CostPerOp(before, after, 2, true)).dump(),
            R"({"autovacuum_runs":2,"broker_fsyncs_per_op":4.0,"dead_tuples_per_op":2.0,)"
            R"("wal_bytes_per_op":100.0,"wal_syncs_per_op":5.0,"wal_writes_per_op":10.0})");
  // No operation: nothing per operation; no broker: no broker figure.
  EXPECT_EQ(results::Write(CostPerOp(before, after, 0, false)).dump(),
            R"({"autovacuum_runs":2,"broker_fsyncs_per_op":null,"dead_tuples_per_op":null,)"
            R"("wal_bytes_per_op":null,"wal_syncs_per_op":null,"wal_writes_per_op":null})");
}

TEST(CompareCellsJson, PercentilesAndCdf) {
  Histogram h;
  EXPECT_TRUE(AsJson(PercentilesMs(h, true)).is_null());
  for (int64_t us : {1000, 2000, 3000}) h.Record(us);
  json p = AsJson(PercentilesMs(h, false));
  ASSERT_TRUE(p.is_object());
  EXPECT_EQ(p.size(), 6u);
  for (const char* k : {"p50", "p95", "p99", "p999", "max", "mean"}) {
    EXPECT_TRUE(p[k].is_number_float()) << k;
  }
  EXPECT_DOUBLE_EQ(p["max"].get<double>(), 3.0);
  json c = AsJson(PercentilesMs(h, true));
  EXPECT_TRUE(c["count"].is_number_integer());
  EXPECT_EQ(c["count"], 3);
  json cdf = results::Write(CdfMs(h));
  ASSERT_TRUE(cdf.is_array());
  ASSERT_FALSE(cdf.empty());
  for (const auto& point : cdf) {
    ASSERT_EQ(point.size(), 2u);
    EXPECT_TRUE(point[0].is_number_float());
    EXPECT_TRUE(point[1].is_number_float());
  }
  EXPECT_DOUBLE_EQ(cdf.back()[1].get<double>(), 1.0);
}

TEST(CompareCellsJson, OperationWindowsCountInIntegers) {
  WindowStats w;
  EXPECT_EQ(results::Write(w.ToOps()).dump(),
            R"({"attempted":0,"availability":null,"failed":0,"offered":0,"succeeded":0})");
  w.Add({0, 1000, 'c', 1});
  w.Add({0, 2000, 'f', 2});
  EXPECT_EQ(results::Write(w.ToOps()).dump(),
            R"({"attempted":2,"availability":0.5,"failed":1,"offered":2,"succeeded":1})");
}

TEST(CompareCellsJson, Timelines) {
  const std::vector<SampleRow> rows = {{0, 1000, 'c', 7}, {100'000, 1000, 'f', 8}};
  json tl = results::Write(Timeline(rows, 0, 0, 500'000, 250'000));
  ASSERT_EQ(tl.size(), 2u);
  EXPECT_EQ(tl[0]["t_s"].dump(), "0.0");
  EXPECT_EQ(tl[0]["offered"].dump(), "2");  // a count, until a fixed rate adds to it
  EXPECT_EQ(tl[0]["ok"], 1);
  EXPECT_EQ(tl[0]["failed"], 1);
  EXPECT_TRUE(tl[0]["p99_ms"].is_number_float());
  EXPECT_EQ(tl[1].dump(), R"({"failed":0,"offered":0,"ok":0,"p99_ms":null,"t_s":0.25})");
  EXPECT_EQ(results::Write(LostTimeline(rows, {7}, 0, 0, 500'000, 250'000)).dump(),
            R"([{"lost":1,"t_s":0.25},{"lost":1,"t_s":0.5}])");
  EXPECT_EQ(results::Write(LostTimeline(rows, {}, 0, 0, 500'000, 250'000)).dump(), "[]");
}

TEST(CompareCellsJson, HistoryVerdict) {
  HistoryReport h;
  h.acknowledged = 3;
  h.examples = {42};
  EXPECT_EQ(results::Write(h.ToResults()).dump(),
            R"({"aborted":0,"aborted_with_message":0,"aborted_with_row":0,"ack_duplicated":0,)"
            R"("ack_missing_message":0,"ack_missing_row":0,"acknowledged":3,"examples":[42],)"
            R"("ok":true,"unknown":0,"unknown_committed":0,"unknown_split":0})");
}

}  // namespace
}  // namespace dw::compare

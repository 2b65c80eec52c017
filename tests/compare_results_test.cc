// The typed results (compare/results.h) against real files: every committed
// run under docs/results (schema 2, and schema 1 while one is kept) and the
// report's fixtures each read into a Run and write back as the same JSON, and
// the report rendered from that JSON is the report rendered from the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/plots.h"
#include "compare/report.h"
#include "compare/results.h"

namespace dw::compare::results {
namespace {

json Load(const char* path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return json::parse(in, nullptr, false);
}

// The first differences, as JSON-patch operations, for a readable failure.
std::string Diff(const json& want, const json& got) {
  json patch = json::diff(want, got);
  std::string out;
  for (size_t i = 0; i < patch.size() && i < 10; ++i) out += patch[i].dump() + "\n";
  return out;
}

// Every struct that holds cells named all of the file's keys: nothing of a
// committed run is left to `extra`.
void ExpectFullyTyped(const Run& r) {
  EXPECT_TRUE(r.extra.empty()) << r.extra.dump();
  ASSERT_TRUE(r.machine);
  EXPECT_TRUE(r.machine->extra.empty()) << r.machine->extra.dump();
  ASSERT_TRUE(r.settings);
  EXPECT_TRUE(r.settings->extra.empty()) << r.settings->extra.dump();
  auto cells = [](const Field<std::vector<LoadCell>>& f) {
    if (!f) return;
    for (const auto& c : *f) {
      EXPECT_TRUE(c.extra.empty()) << c.extra.dump();
      if (c.latency_ms) {
        EXPECT_TRUE(c.latency_ms->extra.empty());
      }
      if (c.cost) {
        EXPECT_TRUE(c.cost->extra.empty());
      }
      if (c.verify) {
        EXPECT_TRUE(c.verify->extra.empty()) << c.verify->extra.dump();
      }
    }
  };
  cells(r.latency);
  cells(r.open_loop);
  if (r.rate_grid) cells(r.rate_grid->cells);
  if (r.contention) cells(r.contention->cells);
  if (r.relay_scaling) cells(r.relay_scaling->cells);
  ASSERT_TRUE(r.failures && r.failures->cells);
  for (const auto& c : *r.failures->cells) {
    EXPECT_TRUE(c.extra.empty()) << c.extra.dump();
    if (c.history) {
      EXPECT_TRUE(c.history->extra.empty()) << c.history->extra.dump();
    }
    if (c.timeline) {
      for (const auto& b : *c.timeline) EXPECT_TRUE(b.extra.empty()) << b.extra.dump();
    }
  }
}

// Read and written back: equal as JSON, and (`exact`) the same text, so
// every integer stayed an integer and every float a float.
void ExpectRoundTrip(const json& raw, bool exact) {
  ASSERT_TRUE(raw.is_object());
  const json back = Write(ParseRun(raw));
  EXPECT_TRUE(back == raw) << Diff(raw, back);
  if (exact) {
    const std::string want = raw.dump(1), got = back.dump(1);
    size_t at = 0;
    while (at < want.size() && at < got.size() && want[at] == got[at]) ++at;
    const size_t from = at > 200 ? at - 200 : 0;
    EXPECT_TRUE(want == got) << "first difference at byte " << at
                             << ":\nfile:  " << want.substr(from, 300)
                             << "\ntyped: " << got.substr(from, 300);
  }
}

// Every committed run: docs/results/<dir>/results.json.
std::vector<std::string> CommittedRuns() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(DW_COMPARE_RESULTS_DIR)) {
    const auto p = e.path() / "results.json";
    if (std::filesystem::exists(p)) out.push_back(p.string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectSchema2(const Run& r) {
  ASSERT_TRUE(r.latency);
  const LoadCell* c = nullptr;
  for (const auto& x : *r.latency) {
    if (x.error.present() && !x.error) c = c ? c : &x;
  }
  ASSERT_NE(c, nullptr) << "no latency cell without an error";
  EXPECT_FALSE(c->approach.value_or("").empty());
  EXPECT_GT(c->throughput_per_s.value_or(0), 0);
  ASSERT_TRUE(c->latency_ms);
  EXPECT_TRUE(c->latency_ms->p99);
  // `range` is null when the cell ran once, else [min, max] per figure.
  EXPECT_TRUE(c->range.present());
  EXPECT_EQ(c->range.has_value(), c->repetitions.value_or(1) > 1);
  EXPECT_FALSE(c->fraction_of_saturation.present());  // version 1 only
  ASSERT_TRUE(r.rate_grid && r.rate_grid->cells && r.rate_grid->sustainable);
  EXPECT_FALSE(r.rate_grid->sustainable->empty());
  for (const auto& g : *r.rate_grid->cells) EXPECT_TRUE(g.sustained.present());
  int ran = 0;
  for (const auto& f : *r.failures->cells) {
    EXPECT_TRUE(f.offered_rate_per_s.present());
    if (f.status.value_or("") != "ran") continue;
    ++ran;
    ASSERT_TRUE(f.ops);
    EXPECT_TRUE(f.ops->availability.present());
    EXPECT_TRUE(f.history);
  }
  EXPECT_GT(ran, 0);
}

void ExpectSchema1(const Run& r) {
  ASSERT_TRUE(r.open_loop);
  ASSERT_FALSE(r.open_loop->empty());
  EXPECT_TRUE(r.open_loop->front().fraction_of_saturation);
  EXPECT_FALSE(r.open_loop->front().cpu_us_per_op.present());  // version 2 only
  EXPECT_FALSE(r.rate_grid.present());
  ASSERT_TRUE(r.settings->open_loop_rates);
  EXPECT_FALSE(r.settings->open_loop_rates->empty());
  for (const auto& f : *r.failures->cells) {
    EXPECT_FALSE(f.offered_rate_per_s.present());
    EXPECT_FALSE(f.fail_ms.present());
  }
  if (r.order_per_key) {
    EXPECT_TRUE(r.order_per_key->extra.empty()) << r.order_per_key->extra.dump();
    ASSERT_TRUE(r.order_per_key->cells);
    for (const auto& c : *r.order_per_key->cells) {
      EXPECT_TRUE(c.extra.empty()) << c.extra.dump();
      if (c.first_inversion) {
        EXPECT_TRUE(c.first_inversion->extra.empty()) << c.first_inversion->extra.dump();
      }
      if (c.verify) {
        EXPECT_TRUE(c.verify->extra.empty()) << c.verify->extra.dump();
      }
    }
  }
}

TEST(CompareResults, EveryCommittedRunRoundTripsExactly) {
  const auto runs = CommittedRuns();
  ASSERT_GE(runs.size(), 2u);
  int v2 = 0;
  for (const auto& path : runs) {
    SCOPED_TRACE(path);
    const json raw = Load(path.c_str());
    ExpectRoundTrip(raw, true);
    const auto r = ParseRun(raw);
    ExpectFullyTyped(r);
    const std::string schema = r.schema.value_or("");
    if (schema == kSchema) {
      ++v2;
      ExpectSchema2(r);
    } else if (schema == kSchemaV1) {
      ExpectSchema1(r);
    } else {
      ADD_FAILURE() << "schema " << schema;
    }
  }
  EXPECT_GE(v2, 1);
}

TEST(CompareResults, TheReportFixturesRoundTrip) {
  // Hand-written: a number may be written 5 where the writer writes 5.0, so
  // only equality as JSON is asked.
  ExpectRoundTrip(Load(DW_COMPARE_FIXTURE), false);
  ExpectRoundTrip(Load(DW_COMPARE_FIXTURE_V2), false);
}

TEST(CompareResults, TheReportAndPlotsOfAParsedRunAreTheFilesOwn) {
  for (const auto& path : CommittedRuns()) {
    const json raw = Load(path.c_str());
    const json typed = Write(ParseRun(raw));
    EXPECT_EQ(RenderReport(typed), RenderReport(raw)) << path;
    std::vector<std::string> a, b;
    for (const auto& p : PlannedPlots(typed)) a.push_back(p.name);
    for (const auto& p : PlannedPlots(raw)) b.push_back(p.name);
    EXPECT_EQ(a, b) << path;
  }
}

TEST(CompareResults, OrderPerKeyIsTyped) {
  const json raw = {
      {"orders", 300},
      {"events_per_order", 3},
      {"writers", 4},
      {"batch", 100},
      {"fault_s", 2.5},
      {"cells",
       {{{"approach", "outbox-skip-locked"},
         {"family", "outbox"},
         {"instances", 3},
         {"partitioned", false},
         {"fault", nullptr},
         {"status", "ran"},
         {"events_written", 900},
         {"keys_reordered", 7},
         {"first_inversion",
          {{"order", 42},
           {"later_version", 3},
           {"later_offset", 17},
           {"version", 2},
           {"offset", 20}}},
         {"drain_s", 0.75},
         {"drain_rate_per_s", 1200.0},
         {"verify", {{"ok", true}, {"missing", 0}}},
         {"notes", json::array()}},
        {{"approach", "2pc-pg"}, {"instances", nullptr}, {"later_events_failed", 2}}}}};
  OrderPerKey o;
  ASSERT_TRUE(Read(raw, &o));
  EXPECT_TRUE(o.extra.empty()) << o.extra.dump();
  ASSERT_TRUE(o.cells);
  ASSERT_EQ(o.cells->size(), 2u);
  const OrderCell& k3 = (*o.cells)[0];
  EXPECT_EQ(k3.instances.value_or(0), 3);
  EXPECT_TRUE(k3.fault.present());
  EXPECT_FALSE(k3.fault);  // healthy: null, not absent
  EXPECT_EQ(k3.keys_reordered.value_or(0), 7);
  ASSERT_TRUE(k3.first_inversion);
  EXPECT_EQ(k3.first_inversion->order.value_or(0), 42);
  EXPECT_EQ(k3.first_inversion->offset.value_or(0), 20);
  ASSERT_TRUE(k3.verify);
  EXPECT_TRUE(k3.verify->ok.value_or(false));
  const OrderCell& two_pc = (*o.cells)[1];
  EXPECT_TRUE(two_pc.instances.present());
  EXPECT_FALSE(two_pc.instances);
  EXPECT_EQ(two_pc.later_events_failed.value_or(0), 2);
  EXPECT_EQ(Write(o), raw);

  // In a run: the section is a field, not left to the run's `extra`.
  const results::Run r = ParseRun({{"schema", kSchema}, {"order_per_key", raw}});
  EXPECT_TRUE(r.extra.empty()) << r.extra.dump();
  ASSERT_TRUE(r.order_per_key);
  EXPECT_EQ(r.order_per_key->orders.value_or(0), 300);
}

TEST(CompareResults, AbsentNullAndValueAreKept) {
  const json raw = {{"p50", 1.5}, {"p99", nullptr}, {"count", 3}};
  Percentiles p;
  ASSERT_TRUE(Read(raw, &p));
  EXPECT_TRUE(p.p50);
  EXPECT_DOUBLE_EQ(*p.p50, 1.5);
  EXPECT_TRUE(p.p99.present());
  EXPECT_FALSE(p.p99);
  EXPECT_FALSE(p.p95.present());
  EXPECT_EQ(p.count.value_or(0), 3);
  EXPECT_EQ(Write(p), raw);
  EXPECT_FALSE(Write(p).contains("p95"));
}

TEST(CompareResults, MistypedAndUnknownKeysAreKeptVerbatim) {
  const json raw = {{"approach", 7}, {"mode", "open"}, {"a_newer_key", {{"x", 1}}}};
  LoadCell c;
  ASSERT_TRUE(Read(raw, &c));
  EXPECT_FALSE(c.approach.present());  // a number is no approach name
  EXPECT_EQ(c.mode.value_or(""), "open");
  EXPECT_EQ(c.extra, json({{"approach", 7}, {"a_newer_key", {{"x", 1}}}}));
  EXPECT_EQ(Write(c), raw);
  EXPECT_FALSE(Read(json::array(), &c));
}

TEST(CompareResults, NumbersKeepTheirKind) {
  const json raw = json::parse(R"({"rate": 5, "hot_skew": 0.0, "concurrency": 16,
                                  "cdf": [[0.5, 0.25], [1.0, 1.0]]})");
  LoadCell c;
  ASSERT_TRUE(Read(raw, &c));
  EXPECT_DOUBLE_EQ(c.rate.value_or(0), 5.0);
  EXPECT_EQ(Write(c).dump(), raw.dump());
  ASSERT_TRUE(c.cdf);
  ASSERT_EQ(c.cdf->size(), 2u);
  EXPECT_DOUBLE_EQ((*c.cdf)[1].fraction, 1.0);
}

TEST(CompareResults, WrittenByHandLikeAWriter) {
  LoadCell c;
  c.approach = "floor";
  c.mode = "closed";
  c.concurrency = 4;
  c.rate = 0.0;
  c.range = nullptr;
  c.e2e_ms = nullptr;
  Percentiles& l = c.latency_ms.emplace();
  l.p99 = 2.5;
  const json j = c;  // nlohmann's conversion
  EXPECT_EQ(j.dump(),
            R"({"approach":"floor","concurrency":4,"e2e_ms":null,"latency_ms":{"p99":2.5},)"
            R"("mode":"closed","range":null,"rate":0.0})");
  EXPECT_EQ(j.get<LoadCell>().concurrency.value_or(0), 4);
}

}  // namespace
}  // namespace dw::compare::results

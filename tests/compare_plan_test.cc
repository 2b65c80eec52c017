// Which approaches each size of `compare` runs, and which failure scenarios
// apply to which approach: the declarations of compare/approaches.cc read
// through the selection, the plan and the scenarios. No server needed.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "compare/approaches.h"
#include "compare/faults.h"
#include "compare/plan.h"
#include "compare/rig.h"

namespace dw::compare {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& name) {
  return std::find(v.begin(), v.end(), name) != v.end();
}

std::vector<std::string> Names(const std::vector<Approach>& v) {
  std::vector<std::string> out;
  for (const auto& a : v) out.push_back(a.name);
  return out;
}

// --only's selection, then what a size other than full leaves out.
std::vector<std::string> ShortSizeSelection(const std::string& only) {
  std::vector<Approach> v;
  Status s = SelectApproaches(only, &v);
  EXPECT_TRUE(s.ok()) << s.ToString();
  LeaveOutFullSizeOnly(only, &v);
  return Names(v);
}

std::string WhyNot(const std::string& scenario, const std::string& approach) {
  const ScenarioDef* d = FindScenario(scenario);
  const Approach* a = FindApproach(approach);
  EXPECT_TRUE(d && a) << scenario << " / " << approach;
  return d && a ? d->not_applicable(*a) : "?";
}

TEST(ComparePlan, TheTablelessOutboxesRunInTheShortSizesOnlyWhenNamed) {
  std::vector<Approach> all;
  ASSERT_TRUE(SelectApproaches("", &all).ok());
  EXPECT_TRUE(Has(Names(all), "outbox-pgq"));
  EXPECT_TRUE(Has(Names(all), "outbox-emit"));

  // No --only: the smoke and quick sizes keep their approaches as before.
  std::vector<std::string> short_all = ShortSizeSelection("");
  EXPECT_EQ(short_all.size(), all.size() - 2);
  EXPECT_FALSE(Has(short_all, "outbox-pgq"));
  EXPECT_FALSE(Has(short_all, "outbox-emit"));
  EXPECT_TRUE(Has(short_all, "outbox-cdc"));
  // A family is not a name.
  std::vector<std::string> outbox = ShortSizeSelection("outbox");
  EXPECT_FALSE(Has(outbox, "outbox-pgq"));
  EXPECT_TRUE(Has(outbox, "outbox-skip-locked"));
  // Named: in.
  EXPECT_EQ(ShortSizeSelection("outbox-pgq"), std::vector<std::string>{"outbox-pgq"});
  std::vector<std::string> both = ShortSizeSelection("2pc-pg,outbox-emit");
  EXPECT_TRUE(Has(both, "outbox-emit"));
  EXPECT_TRUE(Has(both, "2pc-pg"));
}

TEST(ComparePlan, TheFullSizeMeasuresThemInEverySectionAndTheMatrix) {
  Plan p;
  ASSERT_TRUE(MakePlan("full", AllApproaches(), &p).ok());
  for (const char* name : {"outbox-pgq", "outbox-emit"}) {
    EXPECT_TRUE(Has(Names(p.approaches), name)) << name;
    EXPECT_TRUE(Has(p.grid_approaches, name)) << name;
    EXPECT_TRUE(Has(p.contention_approaches, name)) << name;
    EXPECT_TRUE(Has(p.failure_approaches, name)) << name;
    // One reader each: a PgQ consumer, a replication slot.
    EXPECT_FALSE(Has(p.scaling_approaches, name)) << name;
  }
  // --smoke --only outbox-pgq: every section of the smoke size has it.
  Plan smoke;
  ASSERT_TRUE(MakePlan("smoke", {*FindApproach("outbox-pgq")}, &smoke).ok());
  EXPECT_EQ(smoke.grid_approaches, std::vector<std::string>{"outbox-pgq"});
  EXPECT_EQ(smoke.failure_approaches, std::vector<std::string>{"outbox-pgq"});
}

// The progress line's total is the cells the run will measure. The 13
// approaches of the full run of 2026-12-05 (before PgQ, outbox-emit and 3PC):
// 13 x 4 closed loop, 13 x 7 grid rates (an upper bound), 11 x 3 contention
// (no saga or event sourcing: no stock transaction), 2 x 3 relay scaling and
// the failure cells that apply (the rest are n/a, recorded without
// running). It once said 273 by counting the n/a cells too.
TEST(ComparePlan, TheProgressTotalCountsTheCellsThatRun) {
  std::vector<Approach> v = AllApproaches();
  // 3PC joined after that run (its own test is below).
  std::erase_if(v, [](const Approach& a) { return a.full_size_only || a.is_3pc(); });
  ASSERT_EQ(v.size(), 13u);
  Plan p;
  ASSERT_TRUE(MakePlan("full", v, &p).ok());
  size_t runs = 0;
  for (const auto& sc : p.scenarios) {
    for (const auto& name : p.failure_approaches) runs += FailureCellRuns(sc.name, name);
  }
  // 77 cells of the scenarios every size runs, 2 of broker-reject (saga and
  // event-sourced: the approaches that handle a refusal).
  EXPECT_EQ(runs, 79u);
  EXPECT_EQ(PlannedCells(p), 52u + 91u + 33u + 6u + 79u);
  // A scenario that does not apply is not run.
  EXPECT_FALSE(FailureCellRuns("clock-skew", "2pc-file"));
  EXPECT_TRUE(FailureCellRuns("broker-down", "2pc-file"));

  // The smoke size: 13 x 1 closed loop, 2 x 2 grid rates, 2 x 1 contention,
  // 1 x 2 relay scaling and its matrix of three approaches less its n/a.
  Plan smoke;
  ASSERT_TRUE(MakePlan("smoke", v, &smoke).ok());
  size_t matrix = 0;
  for (const auto& sc : smoke.scenarios) {
    for (const auto& name : smoke.failure_approaches) matrix += FailureCellRuns(sc.name, name);
  }
  EXPECT_LT(matrix, smoke.scenarios.size() * 3);
  EXPECT_EQ(PlannedCells(smoke), 13u + 4u + 2u + 2u + matrix);
}

TEST(ComparePlan, BrokerRejectIsInTheFullMatrixOnly) {
  const std::vector<Approach> v = AllApproaches();
  auto has = [](const Plan& p) {
    for (const auto& sc : p.scenarios) {
      if (sc.name == "broker-reject") return true;
    }
    return false;
  };
  for (const char* size : {"smoke", "quick", "full"}) {
    Plan p;
    ASSERT_TRUE(MakePlan(size, v, &p).ok()) << size;
    EXPECT_EQ(has(p), std::string(size) == "full") << size;
  }
  EXPECT_TRUE(FailureCellRuns("broker-reject", "saga"));
  EXPECT_TRUE(FailureCellRuns("broker-reject", "event-sourced"));
  EXPECT_FALSE(FailureCellRuns("broker-reject", "outbox-skip-locked"));
  EXPECT_FALSE(FailureCellRuns("broker-reject", "2pc-pg"));
}

// 3PC: its coordinator is the load (`3pc run`, the cell adds --agents),
// section 1 of every size and the full size's matrix have it (the quick
// size's six minutes have no room for six more failure cells), and its
// losses are expected under a partition only.
TEST(ComparePlan, ThreePhaseCommitIsMeasuredAndItsPartitionLossIsExpected) {
  const Approach* a = FindApproach("3pc");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->load, (std::vector<std::string>{"3pc", "run"}));
  EXPECT_STREQ(FamilyName(a->family), "3pc");
  EXPECT_TRUE(a->guaranteed);
  EXPECT_FALSE(a->GuaranteedUnder("partition"));
  for (const char* sc :
       {"broker-down", "broker-slow", "postgres-restart", "process-kill", "in-doubt-held"}) {
    EXPECT_TRUE(a->GuaranteedUnder(sc)) << sc;
    EXPECT_EQ(WhyNot(sc, "3pc"), "") << sc;
  }
  EXPECT_NE(WhyNot("clock-skew", "3pc"), "");
  EXPECT_EQ(std::string(a->def().killed), "coordinator");
  EXPECT_TRUE(a->def().kill_load);
  std::vector<Approach> only;
  ASSERT_TRUE(SelectApproaches("3pc", &only).ok());
  EXPECT_EQ(Names(only), std::vector<std::string>{"3pc"});
  for (const char* size : {"smoke", "quick", "full"}) {
    Plan p;
    ASSERT_TRUE(MakePlan(size, AllApproaches(), &p).ok());
    EXPECT_TRUE(Has(Names(p.approaches), "3pc")) << size;
    EXPECT_EQ(Has(p.failure_approaches, "3pc"), std::string(size) == "full") << size;
  }
}

TEST(ComparePlan, TheirCommandsAreTheRealOnes) {
  const Approach* pgq = FindApproach("outbox-pgq");
  ASSERT_TRUE(pgq);
  EXPECT_EQ(pgq->load, (std::vector<std::string>{"outbox", "write", "--queue", "pgq"}));
  // `outbox relay --strategy pgq` refuses --instances other than 1.
  EXPECT_EQ(RelayArgs(*pgq, false), (std::vector<std::string>{"outbox", "relay", "--strategy",
                                                              "pgq", "--batch", "1000", "--json"}));
  const Approach* emit = FindApproach("outbox-emit");
  ASSERT_TRUE(emit);
  EXPECT_EQ(emit->load, (std::vector<std::string>{"outbox", "write", "--emit-message"}));
  EXPECT_EQ(RelayArgs(*emit, false),
            (std::vector<std::string>{"outbox", "relay", "--strategy", "cdc", "--batch", "1000",
                                      "--json"}));
  EXPECT_EQ(emit->relay_ready_sql, FindApproach("outbox-cdc")->relay_ready_sql);
}

// 2PC's closed-loop cells from 16 orders in flight drive 4 orders per
// coordinator thread; open loop, hot rows and fewer orders in flight do not.
TEST(ComparePlan, TwoPhaseCommitRunsInLockstepWhereItApplies) {
  auto batch_of = [](const std::string& name, LoadShape shape) -> std::string {
    const Approach* a = FindApproach(name);
    EXPECT_TRUE(a) << name;
    std::vector<std::string> v = LoadArgs(*a, shape, "samples.csv", 1);
    auto it = std::find(v.begin(), v.end(), "--batch");
    return it == v.end() || it + 1 == v.end() ? "-" : *(it + 1);
  };
  LoadShape c16;
  c16.concurrency = 16;
  for (const char* name : {"2pc-file", "2pc-pg", "2pc-lrco", "2pc-ack-decision"}) {
    EXPECT_EQ(batch_of(name, c16), "4") << name;
  }
  LoadShape c64 = c16;
  c64.concurrency = 64;
  EXPECT_EQ(batch_of("2pc-pg", c64), "4");
  LoadShape c4 = c16;
  c4.concurrency = 4;
  EXPECT_EQ(batch_of("2pc-pg", c4), "-");
  LoadShape open = c16;
  open.rate = 500;
  EXPECT_EQ(batch_of("2pc-pg", open), "-");
  LoadShape hot = c16;
  hot.hot_rows = 1;
  EXPECT_EQ(batch_of("2pc-pg", hot), "-");
  for (const char* name : {"floor", "outbox-skip-locked", "saga", "event-sourced", "3pc"}) {
    EXPECT_EQ(batch_of(name, c16), "-") << name;
  }
}

TEST(ComparePlan, ScenariosThatDoNotApply) {
  // Their writers take no --clock-skew-ms: nothing stamped decides what is sent.
  EXPECT_NE(WhyNot("clock-skew", "outbox-pgq").find("snapshots"), std::string::npos);
  EXPECT_NE(WhyNot("clock-skew", "outbox-emit").find("commit order"), std::string::npos);
  // The other declarations and the scenario's own rule, unchanged.
  EXPECT_NE(WhyNot("clock-skew", "outbox-trigger").find("server clock"), std::string::npos);
  EXPECT_EQ(WhyNot("clock-skew", "outbox-skip-locked"), "");
  EXPECT_EQ(WhyNot("clock-skew", "2pc-pg"), "no clock decides what is sent");
  // Everything else of the matrix applies to them.
  for (const auto& d : Scenarios()) {
    // broker-reject applies only where a refusal can be handled.
    if (!d.in_matrix || d.name == "clock-skew" || d.name == "broker-reject") continue;
    EXPECT_EQ(WhyNot(d.name, "outbox-pgq"), "") << d.name;
    EXPECT_EQ(WhyNot(d.name, "outbox-emit"), "") << d.name;
  }
}

// --scenarios: the named scenarios in the matrix's order with the size's
// fault windows, a full-size-only one when named, none, and a clear refusal.
TEST(ComparePlan, ScenariosKeepsTheNamedOnesInTheMatrixOrder) {
  Plan p;
  ASSERT_TRUE(MakePlan("quick", AllApproaches(), &p).ok());
  ASSERT_TRUE(SelectScenarios("partition,broker-down,broker-reject", &p).ok());
  std::vector<std::string> names;
  for (const auto& sc : p.scenarios) {
    names.push_back(sc.name);
    EXPECT_EQ(sc.fault_s, 1.5) << sc.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"broker-down", "partition", "broker-reject"}));
  ASSERT_TRUE(SelectScenarios("in-doubt-held", &p).ok());
  ASSERT_EQ(p.scenarios.size(), 1u);
  EXPECT_EQ(p.scenarios[0].fault_s, 3.0);
  ASSERT_TRUE(SelectScenarios("none", &p).ok());
  EXPECT_TRUE(p.scenarios.empty());
  Status s = SelectScenarios("broker-down,bogus", &p);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.ToString().find("'bogus'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("partition"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace dw::compare

// Larger variants of the coordinator tests (label `slow`, not in the quick
// suite): more orders, more concurrency, crashes in the middle of a busy run.
#include <regex>

#include <gtest/gtest.h>

#include "coordinator/crash_points.h"
#include "tests/support/coordinator_test_util.h"

namespace dw::coord {
namespace {

TEST_F(CoordEnv, TenThousandOrdersAtC32AllModes) {
  struct Mode {
    const char* id;
    std::vector<std::string> args;
  };
  const std::vector<Mode> modes = {
      {"sfile", {"--log", "file:" + dir_ + "/c.dlog"}},
      {"spg", {}},
      {"sack", {"--ack-after", "decision"}},
      {"slrco", {"--lrco"}},
  };
  uint64_t total = 0;
  for (const auto& m : modes) {
    std::vector<std::string> args = {"2pc", "run",   "-n", "10000", "-c", "32", "--coordinator-id",
                                     m.id,  "--json"};
    args.insert(args.end(), m.args.begin(), m.args.end());
    DwRun r = Dw(args);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.json["committed"], 10000) << r.out;
    total += 10000;
  }
  workload::VerifyReport v = Verify();
  ExpectClean(v);
  EXPECT_EQ(v.rows, total);
}

// A crash in the middle of a busy run (C=16, after 1000 transactions), for
// every log kind and every crash point.
class CoordSlowCrash : public CoordEnv,
                       public ::testing::WithParamInterface<std::tuple<const char*, const char*>> {
};

TEST_P(CoordSlowCrash, BusyRunDiesAndRecovers) {
  auto [log, point] = GetParam();
  std::string id = std::string("b") +
                   std::to_string(std::hash<std::string>{}(std::string(log) + point) % 100000);
  std::vector<std::string> log_args;
  if (std::string(log) == "file") log_args = {"--log", "file:" + dir_ + "/c.dlog"};
  if (std::string(log) == "lrco") log_args = {"--lrco"};
  std::vector<std::string> args = {
      "2pc", "run",        "-n",  "3000",          "-c",  "16", "--coordinator-id",
      id,    "--crash-at", point, "--crash-after", "1000"};
  args.insert(args.end(), log_args.begin(), log_args.end());
  DwRun r = Dw(args);
  ASSERT_EQ(r.code, kCrashExitCode) << r.err;
  std::vector<std::string> rec = {"2pc", "recover", "--coordinator-id", id};
  if (std::string(log) == "file") rec.insert(rec.end(), log_args.begin(), log_args.end());
  DwRun rr = Dw(rec);
  ASSERT_EQ(rr.code, 0) << rr.out << rr.err;
  workload::VerifyReport v = Verify();
  ExpectClean(v);
  EXPECT_GE(v.rows, 1000u);
}

INSTANTIATE_TEST_SUITE_P(Coordinator, CoordSlowCrash,
                         ::testing::Combine(::testing::Values("file", "postgres", "lrco"),
                                            ::testing::Values("after-prepare-one",
                                                              "after-prepare-all", "after-decision",
                                                              "after-commit-one")),
                         [](const auto& info) {
                           std::string n =
                               std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace dw::coord

// The plots' data files and scripts agree: every `index N ... title 'T'` of a
// script draws the series the data file declares as `# index N: T`.
//
// gnuplot numbers data blocks by separators of two or more blank lines (a
// single blank line only lifts the pen), and comment lines do not interrupt a
// run of blank lines. A data file that writes a blank line per gap therefore
// shifts every later series under the wrong title; this test splits each .dat
// the way gnuplot does and checks it against the script that reads it, for the
// version-1 fixture, the committed full run (whose failure timelines have
// long gaps) and the version-2 fixture.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/plots.h"
#include "tests/support/temp_dir.h"

namespace dw::compare {
namespace {

using nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

json Load(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  json r = json::parse(in, nullptr, false);
  EXPECT_TRUE(r.is_object()) << path;
  return r;
}

struct Block {
  std::vector<std::pair<int, std::string>> headers;  // `# index N: T` lines inside it
  int points = 0;                                    // data lines
};

// Splits a data file into blocks as gnuplot does: a run of two or more blank
// lines ends a block, comment lines neither count as data nor break a run.
// A separator before the first data line is counted too (gnuplot 5.4 skips
// it, older versions did not): the writer must never emit one, and the empty
// block it makes here fails the "holds a point" check.
std::vector<Block> SplitBlocks(const std::string& dat) {
  static const std::regex header(R"(^# index (\d+): (.*)$)");
  std::vector<Block> blocks(1);
  int blanks = 0;
  std::istringstream in(dat);
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) {
      if (++blanks == 2) blocks.emplace_back();
      continue;
    }
    if (line[first] == '#') {
      std::smatch m;
      if (std::regex_match(line, m, header)) {
        blocks.back().headers.push_back({std::stoi(m[1].str()), m[2].str()});
      }
      continue;
    }
    blanks = 0;
    ++blocks.back().points;
  }
  // The separator after the last series leaves an empty block behind.
  if (blocks.back().headers.empty() && blocks.back().points == 0) blocks.pop_back();
  return blocks;
}

struct Clause {
  int plot = 0;  // which `plot` command of the script (a panel)
  int index = -1;
  std::optional<std::string> title;  // nullopt: notitle
  std::string text;
};

// The `plot` clauses of a script that read a data block (`index N`).
std::vector<Clause> IndexedClauses(const std::string& gp) {
  static const std::regex index_re(R"(\bindex\s+(\d+))");
  static const std::regex title_re(R"(\btitle\s+'((?:[^']|'')*)')");
  std::string joined;
  for (size_t i = 0; i < gp.size(); ++i) {
    if (gp[i] == '\\' && i + 1 < gp.size() && gp[i + 1] == '\n') {
      ++i;  // a continued line
      continue;
    }
    joined += gp[i];
  }
  std::vector<Clause> out;
  std::istringstream in(joined);
  std::string line;
  int plot = -1;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line.compare(first, 5, "plot ") != 0) continue;
    ++plot;
    // Commas outside single-quoted strings separate the clauses.
    std::vector<std::string> parts(1);
    bool quoted = false;
    for (size_t i = first + 5; i < line.size(); ++i) {
      char c = line[i];
      if (c == '\'') quoted = !quoted;  // '' inside a string toggles twice
      if (c == ',' && !quoted) {
        parts.emplace_back();
      } else {
        parts.back() += c;
      }
    }
    for (const auto& part : parts) {
      std::smatch m;
      if (!std::regex_search(part, m, index_re)) continue;
      Clause c;
      c.plot = plot;
      c.index = std::stoi(m[1].str());
      c.text = part;
      if (std::regex_search(part, m, title_re)) {
        std::string t = m[1].str();
        for (size_t p = t.find("''"); p != std::string::npos; p = t.find("''", p + 1)) {
          t.erase(p, 1);
        }
        c.title = t;
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

// Writes every plot of `results` and checks each .dat against its .gp.
// Returns the names of the plots written.
std::vector<std::string> CheckPlots(const json& results, const std::string& tag) {
  std::string dir = testing::TempDir("compare-plots-" + tag);
  std::vector<std::string> written;
  Status s = WritePlots(results, dir, &written);
  // Without gnuplot the data and scripts are still written and checked here.
  EXPECT_TRUE(s.ok() || s.code() == Status::Code::kFailedPrecondition) << s.ToString();

  std::vector<std::string> names;
  for (const auto& p : PlannedPlots(results)) names.push_back(p.name);
  EXPECT_FALSE(names.empty()) << tag;
  for (const auto& name : names) {
    SCOPED_TRACE(tag + ": " + name);
    std::string base = dir + "/plots/" + name;
    std::vector<Block> blocks = SplitBlocks(ReadAll(base + ".dat"));
    int headers = 0;
    for (size_t i = 0; i < blocks.size(); ++i) {
      headers += static_cast<int>(blocks[i].headers.size());
      EXPECT_EQ(blocks[i].headers.size(), 1u) << "block " << i << " has no single header";
      if (blocks[i].headers.empty()) continue;
      EXPECT_EQ(blocks[i].headers[0].first, static_cast<int>(i))
          << "block " << i << " is declared as index " << blocks[i].headers[0].first;
      EXPECT_GT(blocks[i].points, 0) << "block " << i << " holds no point";
    }
    EXPECT_EQ(static_cast<int>(blocks.size()), headers);

    std::vector<Clause> clauses = IndexedClauses(ReadAll(base + ".gp"));
    EXPECT_FALSE(clauses.empty()) << "the script plots no data block";
    for (const Clause& c : clauses) {
      EXPECT_LT(c.index, static_cast<int>(blocks.size())) << c.text;
      if (c.index >= static_cast<int>(blocks.size())) continue;
      const Block& b = blocks[c.index];
      EXPECT_GT(b.points, 0) << c.text;
      if (c.title && !b.headers.empty()) {
        EXPECT_EQ(*c.title, b.headers[0].second) << c.text;
      }
    }
  }
  return names;
}

TEST(ComparePlots, SplitBlocksCountsLikeGnuplot) {
  // One blank line lifts the pen; two or more end the block, comments or not.
  auto b = SplitBlocks("# index 0: a\n1 1\n\n2 2\n\n\n\n# index 1: b\n3 3\n\n# x\n\n4 4\n\n\n");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].points, 2);
  EXPECT_EQ(b[1].points, 1);
  EXPECT_EQ(b[2].points, 1);
  EXPECT_TRUE(b[2].headers.empty());
}

TEST(ComparePlots, ScriptClausesAreParsed) {
  auto c = IndexedClauses(
      "plot 'x.dat' index 0 using 1:2 title 'it''s, a', \\\n     'x.dat' index 3 using 1:2 "
      "notitle, 5 title 'bound'\n");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].index, 0);
  EXPECT_EQ(c[0].title, "it's, a");
  EXPECT_EQ(c[1].index, 3);
  EXPECT_FALSE(c[1].title);
}

TEST(ComparePlots, V1FixtureBlocksMatchTitles) { CheckPlots(Load(DW_COMPARE_FIXTURE), "v1"); }

TEST(ComparePlots, CommittedFullRunBlocksMatchTitles) {
  auto names = CheckPlots(Load(DW_COMPARE_FULL_RUN), "full");
  EXPECT_NE(std::find(names.begin(), names.end(), "failure-broker-down"), names.end());
}

TEST(ComparePlots, V2FixtureBlocksMatchTitles) {
  if (!std::filesystem::exists(DW_COMPARE_FIXTURE_V2)) {
    GTEST_SKIP() << DW_COMPARE_FIXTURE_V2 << " does not exist yet";
  }
  auto names = CheckPlots(Load(DW_COMPARE_FIXTURE_V2), "v2");
  for (const char* expected :
       {"latency-cdf", "e2e-cdf", "throughput", "rate-grid-latency", "contention", "relay-scaling",
        "failure-broker-down", "failure-in-doubt-held", "lost-clock-skew", "backlog-broker-down"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  // Version 1's open loop at fractions of each saturation is not in version 2.
  EXPECT_EQ(std::find(names.begin(), names.end(), "open-loop-latency"), names.end());
}

// One panel per family: no `plot` command mixes 2PC and outbox approaches,
// the floor is the grey dashed reference in each, every series has an
// explicit colour, and an approach keeps its colour from plot to plot.
TEST(ComparePlots, PanelsPerFamilyWithTheFloorAsReference) {
  json r = Load(DW_COMPARE_FIXTURE_V2);
  std::string dir = testing::TempDir("compare-plots-family");
  std::vector<std::string> written;
  Status s = WritePlots(r, dir, &written);
  EXPECT_TRUE(s.ok() || s.code() == Status::Code::kFailedPrecondition) << s.ToString();
  std::map<std::string, std::string> colour_of;
  static const std::regex colour_re(R"(lc rgb '(#[0-9a-f]{6})')");
  for (const char* name : {"throughput", "rate-grid-latency", "failure-broker-down",
                           "failure-postgres-restart", "contention", "latency-cdf"}) {
    SCOPED_TRACE(name);
    auto clauses = IndexedClauses(ReadAll(dir + "/plots/" + name + ".gp"));
    std::map<int, std::vector<const Clause*>> panels;
    for (const auto& c : clauses) panels[c.plot].push_back(&c);
    ASSERT_FALSE(panels.empty());
    for (const auto& [plot, cs] : panels) {
      bool two_pc = false, outbox = false, floor = false;
      for (const Clause* c : cs) {
        std::smatch m;
        ASSERT_TRUE(std::regex_search(c->text, m, colour_re)) << c->text;
        if (!c->title) continue;
        const std::string& t = *c->title;
        two_pc |= t.starts_with("2pc");
        outbox |= t.starts_with("outbox");
        if (t.starts_with("floor")) {
          floor = true;
          EXPECT_EQ(m[1].str(), "#7f7f7f") << c->text;
          EXPECT_TRUE(c->text.find(" dt 2 ") != std::string::npos) << c->text;
        } else {
          auto [it, fresh] = colour_of.insert({t, m[1].str()});
          EXPECT_EQ(it->second, m[1].str()) << t << " changed colour";
        }
      }
      EXPECT_FALSE(two_pc && outbox) << "panel " << plot << " mixes the families";
      // The floor ran in postgres-restart only among these failure plots.
      if (std::string(name) != "failure-broker-down" && (two_pc || outbox)) {
        EXPECT_TRUE(floor) << "panel " << plot << " lacks the floor";
      }
    }
  }
  // Colours within a family differ.
  std::map<std::string, std::string> owner;
  for (const auto& [approach, colour] : colour_of) {
    auto [it, fresh] = owner.insert({colour, approach});
    EXPECT_TRUE(fresh) << approach << " and " << it->second << " share " << colour;
  }
}

// Gaps at the start, runs of empty buckets in the middle and at the end of a
// timeline, and names that would break a comment line.
TEST(ComparePlots, TimelineGapsNeverShiftBlocks) {
  auto bucket = [](double t, int ok, int failed, json p99) {
    return json{{"t_s", t}, {"ok", ok}, {"failed", failed}, {"p99_ms", p99}};
  };
  json timeline = json::array();
  timeline.push_back(bucket(-1.0, 0, 5, nullptr));
  timeline.push_back(bucket(-0.75, 0, 5, nullptr));
  timeline.push_back(bucket(-0.5, 10, 0, 3.0));
  for (double t = -0.25; t < 1.0; t += 0.25) timeline.push_back(bucket(t, 0, 10, nullptr));
  timeline.push_back(bucket(1.0, 10, 0, 4.0));
  timeline.push_back(bucket(1.25, 0, 0, nullptr));
  timeline.push_back(bucket(1.5, 0, 0, nullptr));
  json cells = json::array();
  for (std::string a : {"2pc-pg", "outbox-skip-locked", "odd\nname", "it's"}) {
    cells.push_back({{"scenario", "broker-down"},
                     {"approach", a},
                     {"status", "ran"},
                     {"fault", {{"start_s", 2.0}, {"end_s", 3.0}}},
                     {"timeline", timeline}});
  }
  json r = {{"approaches", json::array()}, {"failures", {{"cells", cells}}}};
  auto names = CheckPlots(r, "gaps");
  EXPECT_NE(std::find(names.begin(), names.end(), "failure-broker-down"), names.end());
}

// A run that failed half way, or a hand-edited file, plans and writes
// plots without crashing: every section with missing or mistyped fields.
TEST(ComparePlots, MalformedSectionsDoNotCrash) {
  std::vector<json> odd = {
      json::object(),
      json::array(),
      {{"latency", {{{"approach", "2pc-pg"}, {"cdf", "x"}, {"throughput_per_s", nullptr}}}}},
      {{"rate_grid",
        {{"cells", {{{"approach", "floor"}, {"latency_ms", 3}}}}, {"e2e_bound_ms", "x"}}}},
      {{"relay_scaling", {{"cells", {{{"approach", "outbox-status"}}}}}}},
      {{"contention", {{"cells", {{{"approach", 7}, {"hot_rows", -1}}}}}}},
      {{"open_loop", {{{"approach", "floor"}, {"rate", 100}, {"latency_ms", {{"p99", 0}}}}}}},
      {{"failures",
        {{"cells",
          {{{"scenario", "clock-skew"},
            {"approach", "outbox-offset-naive"},
            {"status", "ran"},
            {"timeline", {1, "x", {{"t_s", "y"}}}},
            {"lost_timeline", {{{"t_s", 0}, {"lost", 3}}, nullptr}},
            {"backlog", "none"}}}}}}},
  };
  for (size_t i = 0; i < odd.size(); ++i) {
    SCOPED_TRACE(i);
    auto planned = PlannedPlots(odd[i]);
    std::string dir = testing::TempDir("compare-plots-odd");
    std::vector<std::string> written;
    Status s = WritePlots(odd[i], dir, &written);
    EXPECT_TRUE(s.ok() || s.code() == Status::Code::kFailedPrecondition) << s.ToString();
  }
}

}  // namespace
}  // namespace dw::compare

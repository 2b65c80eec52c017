// Narrator: how a demo talks to the class. A lesson is a sequence of steps;
// each step says what is about to happen, shows the exact SQL / HTTP request /
// command line it runs, then the state read back from every party as compact
// aligned tables. At the end the lesson's conclusion is stated from the facts
// it measured (Conclude), never from canned text.
//
// Pacing: --step waits for Enter before each step after the first; --slow MS
// sleeps MS before each step after the first; neither: straight through (how
// the tests run it).
//
// Not thread-safe: lessons narrate from one thread (helper threads, like the
// blocked client of 2pc-blocking, only measure and never print).
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "common/one_line.h"

namespace dw::demo {

// A small table rendered with aligned columns. Cells are single-line text
// (newlines are shown as spaces; long cells are cut with "...").
struct Table {
  std::string caption;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  // "  caption\n  col  col\n  ---  ---\n  v    v\n", or "(no rows)" under the header.
  std::string Render(size_t max_cell = 60) const;
};

struct NarratorOptions {
  bool step = false;  // wait for Enter between steps
  int slow_ms = 0;    // pause between steps
  std::ostream* out = nullptr;
  std::istream* in = nullptr;  // for --step
};

class Narrator {
 public:
  explicit Narrator(const NarratorOptions& opts);

  // The lesson's title and what it is about.
  void Title(const std::string& lesson, const std::string& summary);
  // Starts the next step: pacing, then "[n] title" and what is about to happen.
  void Step(const std::string& title, const std::string& what);
  // What is actually sent, as sent. `who` names the session ("A", "relay").
  void Sql(const std::string& who, const std::string& sql);
  void Http(const std::string& method, const std::string& target, const std::string& body);
  void HttpReply(int status, const std::string& body);
  // A command line run (argv[0] shown as "dualwrite" when it is our binary).
  void Command(const std::vector<std::string>& argv);
  // A line of output of something we ran, or a remark.
  void Output(const std::string& text);
  void Note(const std::string& text);
  void Show(const Table& t);

  // Records one claim of the lesson, stated from measured facts: `held`
  // says whether the measurement supports it; `text` is written for either
  // case by the caller. Printed at the end by Conclusion().
  void Conclude(bool held, const std::string& text);
  // Prints the conclusion lines; true when every claim held.
  bool Conclusion();
  bool all_held() const;

 private:
  void Pace();
  std::ostream& out() { return *opts_.out; }

  NarratorOptions opts_;
  int step_ = 0;
  std::vector<std::pair<bool, std::string>> claims_;
};

// `s` with newlines and tabs shown as spaces (one line on the screen, its
// width unchanged): what every lesson prints in a cell or a line of output.
inline std::string OneLine(const std::string& s) { return dw::OneLine(s, OneLineMode::kScreen); }

}  // namespace dw::demo

// `dualwrite demo LESSON [--step] [--slow MS] [--result FILE]`: narrated
// lessons for a class. The lessons live in demo/; this file only
// parses flags, finds the cluster, and turns the verdict into an exit code.
#include <algorithm>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "common/process.h"
#include "demo/lessons.h"
#include "env/environment.h"

namespace dw::cli {

void AddDemoCommand(CLI::App& app, Globals& g) {
  // The descriptions in one column, two spaces past the longest name.
  size_t width = 0;
  for (const auto& l : demo::Lessons()) width = std::max(width, std::string(l.name).size() + 2);
  std::string lessons;
  for (const auto& l : demo::Lessons()) {
    lessons += "\n  " + std::string(l.name) + std::string(width - std::string(l.name).size(), ' ') +
               l.description;
  }
  auto* cmd = app.add_subcommand(
      "demo",
      "narrated lessons: each step shows what happens, the SQL / HTTP actually sent, and the "
      "state of every party");
  cmd->footer("Lessons:" + lessons +
              "\nEach lesson creates a fresh database dw_demo_<lesson> on the embedded cluster "
              "(or --dsn's) and starts its own broker; both are removed at the end. Exit 0 when "
              "the lesson showed what it should.\n");
  struct Opts {
    std::string lesson;
    bool step = false;
    int slow_ms = 0;
    std::string result;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("lesson", o->lesson, "the lesson: " + demo::LessonNames())
      ->required()
      ->check(CLI::Validator(
          [](std::string& v) {
            return demo::FindLesson(v)
                       ? std::string()
                       : "unknown lesson '" + v + "': want one of " + demo::LessonNames();
          },
          "LESSON", "Lesson"));
  cmd->add_flag("--step", o->step, "wait for Enter between steps");
  cmd->add_option("--slow", o->slow_ms, "pause this many ms between steps")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--result", o->result, "write the lesson's measured facts to FILE as JSON");
  cmd->callback([&g, o] {
    const demo::Lesson* lesson = demo::FindLesson(o->lesson);
    if (!lesson) {
      throw CliError("unknown lesson '" + o->lesson + "': want one of " + demo::LessonNames());
    }
    // Only the cluster is shared with the environment: the lesson makes its
    // own database and broker, so the embedded broker is not started.
    std::string admin_dsn = g.dsn;
    if (admin_dsn.empty()) {
      env::Environment e(g.state_dir);
      env::UpOptions uo;
      uo.broker = false;
      uo.report_running = false;
      env::Endpoints ep;
      Status s = e.Up(uo, &ep, &std::cerr);
      if (!s.ok()) throw CliError(s.ToString());
      admin_dsn = ep.dsn;
    }
    if (!g.broker.empty()) {
      std::cerr << "demo: --broker is ignored: each lesson starts a broker of its own\n";
    }
    demo::NarratorOptions no;
    no.step = o->step;
    no.slow_ms = o->slow_ms;
    no.out = &std::cout;
    no.in = &std::cin;
    demo::Narrator n(no);
    nlohmann::json facts = nlohmann::json::object();
    demo::StageOptions stage;
    stage.admin_dsn = admin_dsn;
    stage.binary = SelfExe();
    Status s;
    try {
      s = demo::RunLesson(*lesson, stage, &n, &facts);
    } catch (const std::exception& e) {
      s = Status::IOError(demo::OneLine(e.what()));
    }
    bool showed = s.ok() && n.Conclusion();
    facts["lesson"] = lesson->name;
    facts["showed"] = showed;
    if (!s.ok()) facts["error"] = s.ToString();
    if (!o->result.empty()) {
      std::ofstream f(o->result, std::ios::trunc);
      f << facts.dump(2) << "\n";
      if (!f) throw CliError("cannot write " + o->result);
    }
    if (!s.ok()) throw CliError("demo " + o->lesson + " could not run: " + s.ToString());
    if (!showed) throw CliError("demo " + o->lesson + " did not show its lesson (see above)", 2);
  });
}

}  // namespace dw::cli

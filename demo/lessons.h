// The lessons of `dualwrite demo LESSON`: name -> description, summary -> run.
// Names are a public interface (docs, tests, teachers' notes): keep them.
//
// A lesson narrates its steps (narrator.h) on parties of its own (stage.h),
// records what it measured in `facts` (what --result writes), and states its
// conclusion from those facts with Narrator::Conclude. It returns an error
// only when it could not run (a party unreachable, a command that failed);
// whether it showed what it should is the narrator's verdict.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "demo/narrator.h"
#include "demo/stage.h"

namespace dw::demo {

// A lesson's steps, on the stage RunLesson opened for it (its own database
// and broker) after printing its title.
using LessonFn = Status (*)(Stage& st, Narrator& n, nlohmann::json& facts);

struct Lesson {
  const char* name;
  const char* description;  // one line, for the list of lessons
  const char* summary;      // what the lesson's title says it is about
  LessonFn run;
};

// In the order they are best taught.
const std::vector<Lesson>& Lessons();
const Lesson* FindLesson(const std::string& name);
// "2pc, 2pc-blocking, ..." for errors and help.
std::string LessonNames();

// Prints the lesson's title, opens its stage (`stage.lesson` is set here)
// and runs it; the stage's parties are torn down when it returns.
Status RunLesson(const Lesson& lesson, StageOptions stage, Narrator* n, nlohmann::json* facts);

Status Lesson2pc(Stage& st, Narrator& n, nlohmann::json& facts);
Status Lesson2pcBlocking(Stage& st, Narrator& n, nlohmann::json& facts);
Status Lesson3pcNonblocking(Stage& st, Narrator& n, nlohmann::json& facts);
Status Lesson3pcPartition(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonOutbox(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonStuckLocks(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonOffsetLoss(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonCdc(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonVacuum(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonSaga(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonEventSourcing(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonOrdering(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonPgq(Stage& st, Narrator& n, nlohmann::json& facts);
Status LessonRealBroker(Stage& st, Narrator& n, nlohmann::json& facts);

}  // namespace dw::demo

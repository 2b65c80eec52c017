// The lessons of `dualwrite demo LESSON`: name -> description -> run.
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

struct LessonContext {
  Narrator* n = nullptr;
  StageOptions stage;  // lesson name set by the caller
  nlohmann::json* facts = nullptr;
};

using LessonFn = Status (*)(LessonContext& ctx);

struct Lesson {
  const char* name;
  const char* description;
  LessonFn run;
};

// In the order they are best taught.
const std::vector<Lesson>& Lessons();
const Lesson* FindLesson(const std::string& name);
// "2pc, 2pc-blocking, ..." for errors and help.
std::string LessonNames();

Status Lesson2pc(LessonContext& ctx);
Status Lesson2pcBlocking(LessonContext& ctx);
Status LessonOutbox(LessonContext& ctx);
Status LessonStuckLocks(LessonContext& ctx);
Status LessonOffsetLoss(LessonContext& ctx);
Status LessonCdc(LessonContext& ctx);
Status LessonVacuum(LessonContext& ctx);

}  // namespace dw::demo

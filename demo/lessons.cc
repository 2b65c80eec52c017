#include "demo/lessons.h"

namespace dw::demo {

const std::vector<Lesson>& Lessons() {
  static const std::vector<Lesson> kLessons = {
      {"2pc", "two-phase commit step by step: the happy path, then a broker that votes abort",
       Lesson2pc},
      {"2pc-blocking",
       "the coordinator dies after its decision: a prepared transaction keeps its row lock and "
       "another client waits until `2pc recover`",
       Lesson2pcBlocking},
      {"outbox",
       "a broker outage: writes keep succeeding, the backlog grows, the relay drains it when the "
       "broker returns",
       LessonOutbox},
      {"stuck-locks",
       "the status relay is SIGKILLed with rows 'locked'; the reaper frees them after the lease",
       LessonStuckLocks},
      {"offset-loss",
       "the naive offset relay skips a row that committed out of order; the safe one does not",
       LessonOffsetLoss},
      {"cdc",
       "the events read from the WAL through a logical replication slot, whose retained WAL "
       "grows while the relay is stopped",
       LessonCdc},
      {"vacuum",
       "the status strategy's dead tuples vs skip-locked's, and a held prepared transaction "
       "that keeps VACUUM from removing them",
       LessonVacuum},
  };
  return kLessons;
}

const Lesson* FindLesson(const std::string& name) {
  for (const auto& l : Lessons()) {
    if (name == l.name) return &l;
  }
  return nullptr;
}

std::string LessonNames() {
  std::string out;
  for (const auto& l : Lessons()) out += (out.empty() ? "" : ", ") + std::string(l.name);
  return out;
}

}  // namespace dw::demo

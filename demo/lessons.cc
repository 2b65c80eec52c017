#include "demo/lessons.h"

#include <memory>

namespace dw::demo {

const std::vector<Lesson>& Lessons() {
  static const std::vector<Lesson> kLessons = {
      {"2pc", "two-phase commit step by step: the happy path, then a broker that votes abort",
       "Two-phase commit: one order must land as a row in Postgres AND as a message at the "
       "broker, or in neither. We play the coordinator by hand.",
       Lesson2pc},
      {"2pc-blocking",
       "the coordinator dies after its decision: a prepared transaction keeps its row lock and "
       "another client waits until `2pc recover`",
       "Two-phase commit blocks: when the coordinator dies after its decision, the prepared "
       "transaction keeps its locks until someone resolves it. Other clients wait.",
       Lesson2pcBlocking},
      {"3pc-nonblocking",
       "three-phase commit: the coordinator dies after every PreCommit; the agents commit by "
       "themselves within their timeout, and the waiting client waits only that long",
       "Three-phase commit does not block: after PreCommit every participant knows that all "
       "voted yes, so when the coordinator dies the participants finish without it.",
       Lesson3pcNonblocking},
      {"3pc-partition",
       "three-phase commit under a network partition: PreCommit reaches one side, each side "
       "terminates alone, one commits and one aborts; verify finds the violation",
       "Three-phase commit is not safe under a partition: its termination rule takes a "
       "participant it cannot reach for a dead one. Split the network after a partial "
       "PreCommit and the two sides decide differently.",
       Lesson3pcPartition},
      {"outbox",
       "a broker outage: writes keep succeeding, the backlog grows, the relay drains it when the "
       "broker returns",
       "The transactional outbox: the order and its event in ONE local transaction; a relay "
       "publishes the event later. What happens when the broker goes down?",
       LessonOutbox},
      {"stuck-locks",
       "the status relay is SIGKILLed with rows 'locked'; the reaper frees them after the lease",
       "The status strategy: claim rows (status 'locked'), publish, mark 'sent'. A relay that "
       "dies in between leaves its rows 'locked'; only a reaper with a lease gets them back.",
       LessonStuckLocks},
      {"offset-loss",
       "the naive offset relay skips a row that committed out of order; the safe one does not",
       "Sending by offset: the relay remembers how far it got (outbox_counter) and sends what "
       "lies past it. Ids are taken at INSERT, rows appear at COMMIT - and that gap loses "
       "events.",
       LessonOffsetLoss},
      {"cdc",
       "the events read from the WAL through a logical replication slot, whose retained WAL "
       "grows while the relay is stopped",
       "Log-based CDC: the relay reads the outbox inserts from Postgres' write-ahead log "
       "through a logical replication slot - no polling query at all. The price: the slot "
       "keeps WAL until the relay confirms it.",
       LessonCdc},
      {"vacuum",
       "the status strategy's dead tuples vs skip-locked's, and a held prepared transaction "
       "that keeps VACUUM from removing them",
       "A queue in a database leaves dead row versions behind; VACUUM removes them - unless a "
       "long (or prepared) transaction might still need them.",
       LessonVacuum},
      {"pgq",
       "PgQ as the outbox: offset-loss's out-of-order commit is delivered, and the event tables "
       "rotate by TRUNCATE with no dead tuples where skip-locked's DELETEs leave them",
       "PgQ, the queue in Postgres: events are cut into batches by transaction snapshots "
       "(ticks), never by position, and never updated or deleted one by one - three event "
       "tables take turns and are TRUNCATEd.",
       LessonPgq},
      {"real-broker",
       "the outbox relay killed after the server acknowledged its batch: JetStream drops the "
       "republished events as duplicates, RabbitMQ delivers them and the consumer's inbox "
       "absorbs them",
       "Real brokers: the same outbox relay publishing to NATS JetStream and to RabbitMQ. A "
       "relay that dies after the publish and before its COMMIT publishes the batch again: who "
       "keeps the second copy out?",
       LessonRealBroker},
      {"saga",
       "a refused publish is compensated (the order cancelled, OrderCancelled sent); a second "
       "session reads the order as 'pending' before that",
       "The saga: commit the order locally as 'pending', publish its event, then mark it "
       "'placed' - or, when the broker says no, compensate. No distributed transaction, and no "
       "isolation either.",
       LessonSaga},
      {"event-sourcing",
       "broker first: the event is the write, the read model lags (read-your-writes misses); a "
       "projector killed mid-batch resumes without loss or duplicate rows",
       "Event sourcing, broker first: write the event to the broker and nothing else; a "
       "projector builds the orders table from the topic. One write, so nothing to keep in "
       "step - but the read model lags.",
       LessonEventSourcing},
      {"ordering",
       "three SKIP LOCKED relays deliver an order's OrderPaid before its OrderPlaced; with "
       "--partition-by key they do not",
       "Order per key: each order gets OrderPlaced, OrderPaid and OrderPacked, in that order. "
       "Does a consumer read them in that order when three relay instances share the outbox?",
       LessonOrdering},
  };
  return kLessons;
}

const Lesson* FindLesson(const std::string& name) {
  for (const auto& l : Lessons()) {
    if (name == l.name) return &l;
  }
  return nullptr;
}

Status RunLesson(const Lesson& lesson, StageOptions stage, Narrator* n, nlohmann::json* facts) {
  n->Title(lesson.name, lesson.summary);
  stage.lesson = lesson.name;
  std::unique_ptr<Stage> st;
  Status s = Stage::Open(stage, n, &st);
  if (!s.ok()) return s;
  return lesson.run(*st, *n, *facts);
}

std::string LessonNames() {
  std::string out;
  for (const auto& l : Lessons()) out += (out.empty() ? "" : ", ") + std::string(l.name);
  return out;
}

}  // namespace dw::demo

// Lesson `real-broker`: the outbox relay against the two real brokers the
// lab runs (nats-server with JetStream, rabbitmq-server), and what each does
// with an event published twice.
//
// The republish is forced, not timed: a deferred constraint trigger on
// outbox_table makes the skip-locked relay's COMMIT wait for an advisory
// lock the lesson holds. The relay has claimed (DELETEd) its batch, published
// it and got the server's acks (JetStream) or confirms (RabbitMQ) by the time
// its COMMIT waits there; we kill it with SIGKILL and end its session, so
// its transaction rolls back and the rows are back, unsent. The next relay
// publishes them again:
//  - JetStream drops each as a duplicate (same Nats-Msg-Id, the event id,
//    within the stream's duplicate window): the stream count is unchanged;
//  - RabbitMQ has no such window: the queue holds every copy, and it is the
//    consumer's inbox (`outbox consume`: the message id in the inbox table,
//    in the same transaction as the work) that absorbs the second one.
// Both servers run as managed processes of the stage's state folder, started
// here (as `outbox relay --sink nats|rabbitmq` would) and stopped at the end.
#include <signal.h>
#include <sys/stat.h>

#include <sstream>
#include <thread>

#include "common/process.h"
#include "demo/lessons.h"
#include "env/environment.h"
#include "env/layout.h"
#include "env/nats_daemon.h"
#include "env/rabbitmq_daemon.h"
#include "jetstream/client.h"
#include "rabbitmq/client.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

using std::chrono::milliseconds;

constexpr int kOrders = 10;  // one batch: the killed relay publishes all of them
constexpr const char* kGateKey = "4242";

// Stops the state folder's nats-server and rabbitmq-server (started here or
// by a relay) before the stage removes the folder, also after a failure.
class SinkStopper {
 public:
  explicit SinkStopper(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  ~SinkStopper() {
    (void)env::NatsDaemon(env::Layout(state_dir_)).Stop(nullptr);
    (void)env::RabbitmqDaemon(env::Layout(state_dir_)).Stop(nullptr);
  }
  SinkStopper(const SinkStopper&) = delete;
  SinkStopper& operator=(const SinkStopper&) = delete;

 private:
  std::string state_dir_;
};

void ShowLog(Narrator& n, const std::string& log) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) n.Output(line);
}

Status StartSinks(Stage& st, const std::string& state, std::string* nats_url,
                  std::string* amqp_url) {
  Narrator& n = st.n();
  // Both binaries first: a missing package is one line naming it
  // (FailedPrecondition from the daemons' lookups), before anything starts.
  std::string bin;
  Status s = env::NatsServerBinary(&bin);
  if (!s.ok()) return s;
  s = env::RabbitmqServerBinary(&bin);
  if (!s.ok()) return s;
  n.Step("Start nats-server and rabbitmq-server for this lesson's state folder",
         "What `dualwrite up --sinks nats,rabbitmq` starts, and what a relay with --sink nats or "
         "--sink rabbitmq starts when it is not running. RabbitMQ takes about 8 s.");
  std::ostringstream log;
  s = env::ResolveNats(state, "", nats_url, &log);
  ShowLog(n, log.str());
  if (!s.ok()) return s;
  log.str("");
  s = env::ResolveRabbitmq(state, "", amqp_url, &log);
  ShowLog(n, log.str());
  if (!s.ok()) return s;
  n.Note("nats: " + *nats_url + "   rabbitmq: " + *amqp_url);
  return Status::OK();
}

// Messages in the `orders` stream / queue; -1 when it cannot be read.
int64_t StreamCount(const std::string& url) {
  jetstream::ClientOptions co;
  co.url = url;
  std::unique_ptr<jetstream::Client> c;
  uint64_t n = 0, last = 0;
  if (!jetstream::Client::Connect(co, &c).ok() || !c->StreamState("orders", &n, &last).ok()) {
    return -1;
  }
  return static_cast<int64_t>(n);
}

int64_t QueueCount(const std::string& url) {
  rabbitmq::ClientOptions co;
  co.url = url;
  std::unique_ptr<rabbitmq::Client> c;
  uint64_t n = 0;
  if (!rabbitmq::Client::Connect(co, &c).ok() || !c->QueueCount("orders", &n).ok()) return -1;
  return static_cast<int64_t>(n);
}

struct Sink {
  std::string flag;  // --sink
  std::string name;  // "JetStream stream `orders`"
  std::string url;
  int64_t (*count)(const std::string& url);
};

struct Half {
  int64_t min_id = 0;
  int64_t stored_at_kill = -1, rows_after_kill = -1, republished = -1, stored_after = -1;
  int relay_exit = 0;
  workload::VerifyReport verify;
};

void ShowCount(Narrator& n, const Sink& sink, int64_t count) {
  n.Output(sink.name + ": " + std::to_string(count) + " message(s)");
}

// Waits until the relay's backend waits on the gate's advisory lock, which
// it does only in COMMIT, after its publish was acknowledged. 0: not within
// 60 s, or the relay exited.
int WaitForHeldCommit(Stage& st, Child* relay) {
  for (int i = 0; i < 1200; ++i) {
    int64_t pid = st.Int(
        "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND wait_event = 'advisory'");
    if (pid > 0) return static_cast<int>(pid);
    if (!ProcessAlive(relay->pid)) return 0;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return 0;
}

// One sink: kOrders orders, a relay killed at its COMMIT after the server
// acknowledged the batch, a second relay that publishes the batch again.
Status KilledAfterPublish(Stage& st, Session& gate, const Sink& sink, Half* h) {
  Narrator& n = st.n();
  h->min_id = st.Int("SELECT coalesce(max(id), 0) + 1 FROM orders");
  n.Step("[" + sink.flag + "] " + std::to_string(kOrders) + " orders, the outbox way", "");
  RunResult w = st.Run({"outbox", "write", "-n", std::to_string(kOrders), "-c", "1", "--json"});
  st.ShowResult(w, {"committed", "failed"});
  if (w.Int("committed") != kOrders) return Status::IOError("outbox write failed: " + w.err);

  n.Step("[" + sink.flag + "] Close the gate, start the relay",
         "The relay claims (DELETEs) the " + std::to_string(kOrders) +
             " rows in one batch, publishes them to " + sink.name +
             ", waits for the server's acknowledgements, then COMMITs - where the trigger "
             "makes it wait for the gate.");
  gate.Exec("SELECT pg_advisory_lock(" + std::string(kGateKey) + ")");
  Child relay;
  Status s = st.Spawn({"outbox", "relay", "--strategy", "skip-locked", "--sink", sink.flag,
                       "--batch", "100", "--no-maintain"},
                      &relay);
  if (!s.ok()) return s;
  const int backend = WaitForHeldCommit(st, &relay);
  if (backend == 0) {
    RunResult r = st.Signal(&relay, SIGKILL);
    return Status::IOError("the relay never reached its COMMIT: " + OneLine(r.err));
  }
  n.Show(st.Query("postgres: the relay's session",
                  "SELECT pid, state, wait_event_type, wait_event, query FROM pg_stat_activity"
                  " WHERE pid = " +
                      std::to_string(backend)));
  h->stored_at_kill = sink.count(sink.url);
  ShowCount(n, sink, h->stored_at_kill);
  n.Note("The server has the batch; Postgres has not committed its DELETE.");

  n.Step("[" + sink.flag + "] Kill the relay at its COMMIT",
         "SIGKILL, then its session ends: a backend waiting on a lock notices a dead client only "
         "when the wait is over, so we end it now. The DELETE rolls back.");
  RunResult killed = st.Signal(&relay, SIGKILL);
  h->relay_exit = killed.exit_code;
  gate.Exec("SELECT pg_terminate_backend(" + std::to_string(backend) + ")");
  for (int i = 0; i < 200 && st.Int("SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                                    std::to_string(backend)) > 0;
       ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  gate.Exec("SELECT pg_advisory_unlock(" + std::string(kGateKey) + ")");
  st.ShowOutbox(0);
  h->rows_after_kill = st.Int("SELECT count(*) FROM outbox_table");
  ShowCount(n, sink, sink.count(sink.url));
  n.Note("Every row the server holds is back in the outbox, unsent.");

  n.Step("[" + sink.flag + "] The relay again, until drained",
         "The gate is open. It publishes the same " + std::to_string(h->rows_after_kill) +
             " events again, each with its event id as the message id.");
  RunResult r = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--sink", sink.flag,
                        "--until-drained", "--json", "--no-maintain"});
  st.ShowResult(r, {"published", "errors", "drained"});
  h->republished = r.Int("published");
  h->stored_after = sink.count(sink.url);
  ShowCount(n, sink, h->stored_after);

  n.Step("[" + sink.flag + "] verify, reading " + sink.name, "");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  (sink.flag == "nats" ? vo.nats_url : vo.amqp_url) = sink.url;
  vo.min_id = h->min_id;
  s = workload::Verify(vo, &h->verify);
  if (!s.ok()) return s;
  n.Output(h->verify.ToText(10));
  if (h->verify.duplicate_messages > 0) {
    n.Note(
        "Each event of the killed batch is at the server twice: delivery is at least once, "
        "and only a consumer that recognises a message id it has seen makes that harmless.");
  }
  return Status::OK();
}

}  // namespace

Status LessonRealBroker(Stage& st, Narrator& n, nlohmann::json& facts) {
  Status s = st.EnsureOutboxSchema();
  if (!s.ok()) return s;
  // The servers run as the cluster's OS user when we are root: they must
  // reach their folders under the stage's (mkdtemp: 0700) directory.
  if (chmod(st.dir().c_str(), 0755) != 0) return Status::IOError("cannot chmod " + st.dir());
  const std::string state = st.dir() + "/state";  // Stage::DwArgv's --state-dir
  SinkStopper stopper(state);
  std::string nats_url, amqp_url;
  s = StartSinks(st, state, &nats_url, &amqp_url);
  if (!s.ok()) return s;

  n.Step("The gate: a deferred trigger that holds the relay's COMMIT",
         "A constraint trigger INITIALLY DEFERRED runs at COMMIT. Ours takes advisory lock " +
             std::string(kGateKey) +
             " in shared mode: it passes at once, unless the gate session holds that lock.");
  Session gate(&n, "gate", st.dsn());
  gate.Exec(
      "CREATE FUNCTION dw_demo_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM "
      "pg_advisory_xact_lock_shared(" +
      std::string(kGateKey) + "); RETURN NULL; END $$");
  gate.Exec(
      "CREATE CONSTRAINT TRIGGER dw_demo_gate AFTER DELETE ON outbox_table DEFERRABLE INITIALLY "
      "DEFERRED FOR EACH ROW EXECUTE FUNCTION dw_demo_gate()");

  Half js, rb;
  s = KilledAfterPublish(st, gate, Sink{"nats", "JetStream stream `orders`", nats_url, StreamCount},
                         &js);
  if (!s.ok()) return s;
  s = KilledAfterPublish(st, gate,
                         Sink{"rabbitmq", "RabbitMQ queue `orders`", amqp_url, QueueCount}, &rb);
  if (!s.ok()) return s;

  n.Step("The consumer, with its inbox",
         "`outbox consume` takes each delivery in one transaction: its message id into the inbox "
         "table (ON CONFLICT: seen already, nothing else is done), the work (consumer_orders), "
         "COMMIT, then the ack.");
  RunResult c = st.Run({"outbox", "consume", "--sink", "rabbitmq", "--idle-ms", "1000", "--json"});
  st.ShowResult(c, {"delivered", "applied", "absorbed"});
  n.Show(st.Query("postgres: consumer_orders and inbox",
                  "SELECT (SELECT count(*) FROM consumer_orders) AS orders,"
                  " (SELECT coalesce(max(events), 0) FROM consumer_orders) AS max_events,"
                  " (SELECT count(*) FROM inbox) AS inbox_ids,"
                  " (SELECT coalesce(sum(absorbed), 0) FROM inbox) AS absorbed"));
  const int64_t max_events = st.Int("SELECT coalesce(max(events), 0) FROM consumer_orders");

  facts = {{"orders_per_sink", kOrders},
           {"jetstream_stored_at_kill", js.stored_at_kill},
           {"jetstream_rows_after_kill", js.rows_after_kill},
           {"jetstream_republished", js.republished},
           {"jetstream_stream_after", js.stored_after},
           {"jetstream_duplicates_stored", js.verify.duplicate_messages},
           {"jetstream_verify_clean", js.verify.ok()},
           {"rabbitmq_queued_at_kill", rb.stored_at_kill},
           {"rabbitmq_rows_after_kill", rb.rows_after_kill},
           {"rabbitmq_republished", rb.republished},
           {"rabbitmq_queue_after", rb.stored_after},
           {"rabbitmq_duplicates_delivered", rb.verify.duplicate_messages},
           {"consumer_delivered", c.Int("delivered")},
           {"inbox_applied", c.Int("applied")},
           {"inbox_absorbed", c.Int("absorbed")},
           {"consumer_max_events_per_order", max_events}};

  n.Conclude(js.rows_after_kill == js.stored_at_kill && js.republished == js.rows_after_kill &&
                 js.stored_after == js.stored_at_kill && js.verify.duplicate_messages == 0,
             "JetStream: the killed relay's " + std::to_string(js.stored_at_kill) +
                 " stored event(s) were published again (" + std::to_string(js.republished) +
                 "); the stream holds " + std::to_string(js.stored_after) + ", duplicates " +
                 std::to_string(js.verify.duplicate_messages));
  n.Conclude(rb.rows_after_kill == rb.stored_at_kill && rb.republished == rb.rows_after_kill &&
                 rb.verify.duplicate_messages >= 1,
             "RabbitMQ: the killed relay's " + std::to_string(rb.stored_at_kill) +
                 " queued event(s) were published again (" + std::to_string(rb.republished) +
                 "); the queue holds " + std::to_string(rb.stored_after) + ", duplicates " +
                 std::to_string(rb.verify.duplicate_messages));
  n.Conclude(c.Int("absorbed") >= 1 &&
                 c.Int("absorbed") == static_cast<int64_t>(rb.verify.duplicate_messages) &&
                 c.Int("applied") == kOrders && max_events == 1,
             "the consumer's inbox absorbed " + std::to_string(c.Int("absorbed")) + " of " +
                 std::to_string(c.Int("delivered")) + " deliveries; " +
                 std::to_string(c.Int("applied")) + " applied, at most " +
                 std::to_string(max_events) + " event per order");
  return Status::OK();
}

}  // namespace dw::demo

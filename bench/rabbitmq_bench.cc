// The outbox's RabbitMQ sink against the floor of the client library, in the
// same run (the machine is shared and noisy: only ratios within one run mean
// much). Each pair, alternately in either order:
//
//   drain     R pre-filled outbox rows drained by a skip-locked relay
//             (RunRelays --until-drained, batch B) into a quorum queue: each
//             batch one DELETE ... RETURNING, one publish of B messages with
//             every confirm awaited (rabbitmq::Client), one COMMIT;
//   baseline  the same R messages (same properties: persistent, message-id,
//             the dw-key header, mandatory) published by a minimal
//             librabbitmq loop with no database: B basic.publish on a
//             confirm channel, then one wait for the B confirms, per batch.
//
// Each side publishes to a fresh quorum queue of a rabbitmq-server node of
// the benchmark's own (env::RabbitmqDaemon in a state folder of its own), and
// checks the queue holds R messages afterwards (the drain more when a relay
// error had a batch published again; it says so); both queues are deleted
// after the pair. Prints each pair's rates and ratio (drain / baseline), and the
// median, minimum and maximum ratio.
//
// R = $DW_BENCH_RABBITMQ_ROWS (default 100,000), B = $DW_BENCH_RABBITMQ_BATCH
// (default 1000), relay instances $DW_BENCH_RABBITMQ_INSTANCES (default 1),
// pairs = $DW_BENCH_REPEATS (default 3). Postgres: $DW_BENCH_DSN, else an
// embedded environment (bench_util.h); a database dw_bench_rabbitmq is
// recreated.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "bench/bench_util.h"
#include "env/layout.h"
#include "env/rabbitmq_daemon.h"
#include "env/scratch_database.h"
#include "outbox/partitions.h"
#include "outbox/relay_runner.h"
#include "outbox/schema.h"
#include "rabbitmq/client.h"

namespace dw::bench {
namespace {

using Clock = std::chrono::steady_clock;

void Check(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.ToString());
}

void CheckAmqp(const amqp_rpc_reply_t& r, const char* what) {
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    throw std::runtime_error(std::string(what) + ": reply type " + std::to_string(r.reply_type) +
                             (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                                  ? std::string(" ") + amqp_error_string2(r.library_error)
                                  : std::string()));
  }
}

int64_t EnvInt(const char* name, int64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoll(v) : def;
}

// The payload the relay publishes for order g (the rows' payload column).
std::string Payload(int64_t g) {
  return "{\"type\":\"OrderPlaced\",\"order_id\":" + std::to_string(g) +
         ",\"customer\":\"customer-" + std::to_string(g % 1000) +
         "\",\"amount_cents\":" + std::to_string(100 + g % 100000) + ",\"placed_at_us\":0}";
}

// R rows for `topic` (the queue), event ids order-<first>...
void Prefill(const std::string& dsn, const std::string& topic, int64_t first, int64_t rows) {
  pqxx::connection c{dsn};
  pqxx::work tx{c};
  tx.exec("TRUNCATE outbox_table");
  tx.exec(
      "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload)"
      " SELECT 'order', 'order-' || g, " +
      tx.quote(topic) +
      ", g::text, '{\"type\":\"OrderPlaced\",\"order_id\":' || g || ',\"customer\":\"customer-' "
      "|| (g % 1000) || '\",\"amount_cents\":' || (100 + g % 100000) || ',\"placed_at_us\":0}'"
      " FROM generate_series(" +
      std::to_string(first) + ", " + std::to_string(first + rows - 1) + ") g");
  tx.commit();
  pqxx::nontransaction n{c};
  n.exec("VACUUM ANALYZE outbox_table");
}

std::unique_ptr<rabbitmq::Client> Connect(const std::string& url) {
  rabbitmq::ClientOptions co;
  co.url = url;
  co.timeout = std::chrono::seconds(30);
  std::unique_ptr<rabbitmq::Client> c;
  Check(rabbitmq::Client::Connect(co, &c));
  return c;
}

uint64_t QueueMessages(const std::string& url, const std::string& queue) {
  uint64_t n = 0;
  Check(Connect(url)->QueueCount(queue, &n));
  return n;
}

double Drain(const std::string& dsn, const std::string& url, const std::string& topic,
             int64_t first, int64_t rows, int batch, int instances) {
  Prefill(dsn, topic, first, rows);
  outbox::RelayOptions ro;
  ro.dsn = dsn;
  ro.amqp_url = url;
  ro.strategy = outbox::Strategy::kSkipLocked;
  ro.batch = batch;
  ro.broker_timeout = std::chrono::seconds(30);
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  rn.instances = instances;
  rn.log = &std::cerr;  // a relay's errors and retries
  // Declared before the clock starts, as the baseline's queue is. It also
  // keeps two relays from declaring a new queue at once, after which the
  // node nacked one relay's first message in 1 of 4 runs ("the server nacked
  // delivery tag 1"; the rest of that batch stored, then published again).
  Check(Connect(url)->EnsureQueue(topic));
  outbox::RelayReport report;
  auto t0 = Clock::now();
  Check(outbox::RunRelays(ro, rn, &report));
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  // More than R only after a relay error: the failed batch's messages that
  // the node had stored are published again (no deduplication).
  const uint64_t held = QueueMessages(url, topic);
  if (held < static_cast<uint64_t>(rows) ||
      (held > static_cast<uint64_t>(rows) && !report.errors)) {
    throw std::runtime_error("drain: queue " + topic + " holds " + std::to_string(held) + " of " +
                             std::to_string(rows) + " rows; relay: " + report.ToText());
  }
  if (held > static_cast<uint64_t>(rows)) {
    std::cout << "  drain: " << held - rows << " messages published twice after " << report.errors
              << " relay error(s)\n";
  }
  return rows / s;
}

// Waits for the confirms of delivery tags [first, last]: basic.ack, one per
// tag or `multiple` for every tag up to it. A nack, a return or a close throws.
void AwaitConfirms(amqp_connection_state_t conn, uint64_t first, uint64_t last) {
  std::vector<bool> acked(last - first + 1, false);
  uint64_t lo = first;  // every tag below lo is acked
  timeval tv{30, 0};
  while (lo <= last) {
    amqp_frame_t f;
    int rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
    if (rc != AMQP_STATUS_OK)
      throw std::runtime_error(std::string("confirms: ") + amqp_error_string2(rc));
    if (f.frame_type != AMQP_FRAME_METHOD) continue;
    if (f.payload.method.id != AMQP_BASIC_ACK_METHOD) {
      throw std::runtime_error("confirms: method " + std::to_string(f.payload.method.id));
    }
    auto* a = static_cast<amqp_basic_ack_t*>(f.payload.method.decoded);
    if (a->multiple) {
      for (; lo <= last && lo <= a->delivery_tag; ++lo) acked[lo - first] = true;
    } else if (a->delivery_tag >= first && a->delivery_tag <= last) {
      acked[a->delivery_tag - first] = true;
    }
    while (lo <= last && acked[lo - first]) ++lo;
  }
  amqp_maybe_release_buffers(conn);
}

double Baseline(int port, const std::string& queue, int64_t first, int64_t rows, int batch) {
  // Built before the clock starts, as the rows are before the drain's.
  std::vector<std::string> ids, keys, payloads;
  for (int64_t g = first; g < first + rows; ++g) {
    ids.push_back("order-" + std::to_string(g));
    keys.push_back(std::to_string(g));
    payloads.push_back(Payload(g));
  }
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* sock = amqp_tcp_socket_new(conn);
  if (sock == nullptr || amqp_socket_open(sock, "127.0.0.1", port) != AMQP_STATUS_OK) {
    throw std::runtime_error("baseline: cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  CheckAmqp(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
  amqp_channel_open(conn, 1);
  CheckAmqp(amqp_get_rpc_reply(conn), "channel.open");
  amqp_confirm_select(conn, 1);
  CheckAmqp(amqp_get_rpc_reply(conn), "confirm.select");
  amqp_table_entry_t type;
  type.key = amqp_cstring_bytes("x-queue-type");
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes("quorum");
  amqp_table_t args{1, &type};
  amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue.c_str()), 0, 1, 0, 0, args);
  CheckAmqp(amqp_get_rpc_reply(conn), "queue.declare");

  amqp_table_entry_t key_header;
  key_header.key = amqp_cstring_bytes(rabbitmq::kKeyHeader);
  key_header.value.kind = AMQP_FIELD_KIND_UTF8;
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                 AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.headers.num_entries = 1;
  props.headers.entries = &key_header;

  auto t0 = Clock::now();
  uint64_t tag = 1;  // confirm.select numbers the channel's publishes from 1
  for (size_t i = 0; i < ids.size();) {
    const uint64_t batch_first = tag;
    for (int b = 0; b < batch && i < ids.size(); ++b, ++i, ++tag) {
      props.message_id = amqp_cstring_bytes(ids[i].c_str());
      key_header.value.value.bytes = amqp_cstring_bytes(keys[i].c_str());
      int rc = amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue.c_str()),
                                  /*mandatory=*/1, /*immediate=*/0, &props,
                                  amqp_cstring_bytes(payloads[i].c_str()));
      if (rc != AMQP_STATUS_OK) {
        throw std::runtime_error(std::string("publish: ") + amqp_error_string2(rc));
      }
    }
    AwaitConfirms(conn, batch_first, tag - 1);
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  amqp_destroy_connection(conn);
  const uint64_t held = QueueMessages(env::RabbitmqDaemon::Url(port), queue);
  if (held != static_cast<uint64_t>(rows)) {
    throw std::runtime_error("baseline: queue " + queue + " holds " + std::to_string(held) +
                             " of " + std::to_string(rows) + " messages");
  }
  return rows / secs;
}

int Run() {
  const int64_t rows = EnvInt("DW_BENCH_RABBITMQ_ROWS", 100000);
  const int batch = static_cast<int>(EnvInt("DW_BENCH_RABBITMQ_BATCH", 1000));
  const int pairs = static_cast<int>(EnvInt("DW_BENCH_REPEATS", 3));
  const int instances = static_cast<int>(EnvInt("DW_BENCH_RABBITMQ_INSTANCES", 1));
  BenchEnvironment env;
  Check(env.Open());
  Check(env::RecreateScratchDatabase(env.dsn(), "dw_bench_rabbitmq"));
  std::string dsn;
  Check(WithDatabase(env.dsn(), "dw_bench_rabbitmq", &dsn));
  Check(outbox::EnsureSchema(dsn));
  outbox::MaintenanceReport mr;
  Check(outbox::MaintainPartitions(dsn, outbox::PartitionOptions{}, &mr));

  // The node in a state folder of its own: its own epmd and ports.
  std::string dir;
  Check(MakeTempDir("rabbitmq", &dir));
  env::RabbitmqDaemon node{env::Layout(dir)};
  // Stopped however the run ends: the node outlives this process otherwise.
  struct StopNode {
    env::RabbitmqDaemon& node;
    std::string dir;
    ~StopNode() {
      (void)node.Stop(&std::cout);
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } stop_node{node, dir};
  pid_t pid = 0;
  int port = 0;
  bool started = false;
  Check(node.Ensure(&pid, &port, &started, &std::cout));
  const std::string url = env::RabbitmqDaemon::Url(port);

  std::cout << "rows " << rows << ", batch " << batch << ", relay instances " << instances << ", "
            << pairs << " pairs; rabbitmq-server at 127.0.0.1:" << port << "\n";
  std::vector<double> ratios;
  int64_t next = 1;
  for (int p = 0; p < pairs; ++p) {
    double drain = 0, base = 0;
    const std::string dq = "drain_" + std::to_string(p), bq = "baseline_" + std::to_string(p);
    auto run_drain = [&] { drain = Drain(dsn, url, dq, next, rows, batch, instances); };
    auto run_base = [&] { base = Baseline(port, bq, next, rows, batch); };
    // Alternate which goes first, so a slow phase of the machine hits both.
    if (p % 2 == 0) {
      run_drain();
      run_base();
    } else {
      run_base();
      run_drain();
    }
    // Each queue holds R messages on the node's disk: gone before the next pair.
    std::unique_ptr<rabbitmq::Client> c = Connect(url);
    Check(c->DeleteQueue(dq));
    Check(c->DeleteQueue(bq));
    next += rows;
    ratios.push_back(drain / base);
    std::cout << std::fixed << std::setprecision(0) << "pair " << p + 1 << ": drain " << drain
              << " rows/s, baseline " << base << " msgs/s, ratio " << std::setprecision(2)
              << drain / base << "\n";
  }
  std::sort(ratios.begin(), ratios.end());
  std::cout << "ratio drain/baseline: median " << std::setprecision(2) << ratios[ratios.size() / 2]
            << ", min " << ratios.front() << ", max " << ratios.back() << " (target >= 0.70)\n";
  Check(env.Close());
  return 0;
}

}  // namespace
}  // namespace dw::bench

int main() {
  try {
    return dw::bench::Run();
  } catch (const std::exception& e) {
    std::cerr << "rabbitmq_bench: " << e.what() << "\n";
    return 1;
  }
}

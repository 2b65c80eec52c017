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

#include <chrono>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/sink_drain.h"
#include "env/layout.h"
#include "env/rabbitmq_daemon.h"
#include "outbox/relay_runner.h"
#include "rabbitmq/client.h"

namespace dw::bench {
namespace {

using Clock = std::chrono::steady_clock;
using sink::EnvInt;
using sink::OrThrow;
using sink::Payload;

void CheckAmqp(const amqp_rpc_reply_t& r, const char* what) {
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    throw std::runtime_error(std::string(what) + ": reply type " + std::to_string(r.reply_type) +
                             (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                                  ? std::string(" ") + amqp_error_string2(r.library_error)
                                  : std::string()));
  }
}

std::unique_ptr<rabbitmq::Client> Connect(const std::string& url) {
  rabbitmq::ClientOptions co;
  co.url = url;
  co.timeout = std::chrono::seconds(30);
  std::unique_ptr<rabbitmq::Client> c;
  OrThrow(rabbitmq::Client::Connect(co, &c));
  return c;
}

uint64_t QueueMessages(const std::string& url, const std::string& queue) {
  uint64_t n = 0;
  OrThrow(Connect(url)->QueueCount(queue, &n));
  return n;
}

double Drain(const std::string& dsn, const std::string& url, const std::string& topic,
             int64_t first, int64_t rows, int batch, int instances, sink::CpuMeter* meter,
             sink::CpuUse* cpu) {
  sink::Prefill(dsn, topic, first, rows);
  outbox::RelayOptions ro;
  ro.dsn = dsn;
  ro.amqp_url = url;
  ro.batch = batch;
  ro.broker_timeout = std::chrono::seconds(30);
  // Declared before the clock starts, as the baseline's queue is. It also
  // keeps two relays from declaring a new queue at once, after which the
  // node nacked one relay's first message in 1 of 4 runs ("the server nacked
  // delivery tag 1"; the rest of that batch stored, then published again).
  OrThrow(Connect(url)->EnsureQueue(topic));
  outbox::RelayReport report;
  const double s =
      sink::TimedDrain(ro, instances, &std::cerr, &report, meter, cpu);  // errors and retries
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

double Baseline(int port, const std::string& queue, int64_t first, int64_t rows, int batch,
                sink::CpuMeter* meter, sink::CpuUse* cpu) {
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

  meter->Start();
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
  *cpu = meter->Stop();
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
  OrThrow(env.Open());
  const std::string dsn = sink::OutboxDatabase(env, "dw_bench_rabbitmq");

  // The node in a state folder of its own: its own epmd and ports.
  std::string dir;
  OrThrow(MakeTempDir("rabbitmq", &dir));
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
  OrThrow(node.Ensure(&pid, &port, &started, &std::cout));
  const std::string url = env::RabbitmqDaemon::Url(port);

  std::cout << "rows " << rows << ", batch " << batch << ", relay instances " << instances << ", "
            << pairs << " pairs; rabbitmq-server at 127.0.0.1:" << port << "\n";
  // The node's pid from Ensure is the tree its Erlang VM runs in.
  sink::CpuMeter meter(pid, env.postgres_pid());
  sink::Pair pair;
  pair.drain = [&](const std::string& queue, int64_t first, sink::CpuUse* cpu) {
    return Drain(dsn, url, queue, first, rows, batch, instances, &meter, cpu);
  };
  pair.baseline = [&](const std::string& queue, int64_t first, sink::CpuUse* cpu) {
    return Baseline(port, queue, first, rows, batch, &meter, cpu);
  };
  // Each queue holds R messages on the node's disk: gone before the next pair.
  pair.after = [&](const std::string& drain_queue, const std::string& baseline_queue) {
    std::unique_ptr<rabbitmq::Client> c = Connect(url);
    OrThrow(c->DeleteQueue(drain_queue));
    OrThrow(c->DeleteQueue(baseline_queue));
  };
  sink::RunPairs(pairs, rows, pair);
  OrThrow(env.Close());
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

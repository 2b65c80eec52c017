// The outbox's JetStream sink against the floor of the client library, in
// the same run (the machine is shared and noisy: only ratios within one run
// mean much). Each pair, alternately in either order:
//
//   drain     R pre-filled outbox rows drained by a skip-locked relay
//             (RunRelays --until-drained, batch B) into JetStream: each batch
//             one DELETE ... RETURNING, one async publish of B messages with
//             every ack awaited, one COMMIT;
//   baseline  the same R messages (same subject layout, payloads, message
//             ids) published by a minimal libnats loop with no database:
//             js_PublishMsgAsync for each with at most 4096 unacknowledged,
//             then js_PublishAsyncComplete once.
//
// Each side publishes to a fresh stream (file storage, 2-minute duplicate
// window) of a nats-server of the benchmark's own, so no message is dropped
// as a duplicate; both check the stream holds R messages afterwards.
// Prints each pair's rates and ratio (drain / baseline) and their median.
//
// R = $DW_BENCH_NATS_ROWS (default 100,000), B = $DW_BENCH_NATS_BATCH
// (default 1000), relay instances $DW_BENCH_NATS_INSTANCES (default 1),
// pairs = $DW_BENCH_REPEATS (default 3). Postgres:
// $DW_BENCH_DSN, else an embedded environment (bench_util.h); a database
// dw_bench_nats is recreated.
#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "bench/bench_util.h"
#include "env/nats_daemon.h"
#include "env/scratch_database.h"
#include "jetstream/client.h"
#include "outbox/partitions.h"
#include "outbox/relay_runner.h"
#include "outbox/schema.h"

namespace dw::bench {
namespace {

using Clock = std::chrono::steady_clock;

void Check(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.ToString());
}

void CheckNats(natsStatus s, const char* what) {
  if (s != NATS_OK) throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s));
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

// R rows for `topic`, event ids order-<first>.. never used in this stream.
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

uint64_t StreamMessages(const std::string& url, const std::string& topic) {
  jetstream::ClientOptions co;
  co.url = url;
  std::unique_ptr<jetstream::Client> c;
  Check(jetstream::Client::Connect(co, &c));
  uint64_t n = 0, last = 0;
  Check(c->StreamState(topic, &n, &last));
  return n;
}

double Drain(const std::string& dsn, const std::string& url, const std::string& topic,
             int64_t first, int64_t rows, int batch, int instances) {
  Prefill(dsn, topic, first, rows);
  outbox::RelayOptions ro;
  ro.dsn = dsn;
  ro.nats_url = url;
  ro.strategy = outbox::Strategy::kSkipLocked;
  ro.batch = batch;
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  rn.instances = instances;
  outbox::RelayReport report;
  auto t0 = Clock::now();
  Check(outbox::RunRelays(ro, rn, &report));
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (StreamMessages(url, topic) != static_cast<uint64_t>(rows)) {
    throw std::runtime_error("drain: stream " + topic + " does not hold every row");
  }
  return rows / s;
}

double Baseline(const std::string& url, const std::string& topic, int64_t first, int64_t rows) {
  // Built before the clock starts, as the rows are before the drain's.
  std::vector<std::string> ids, keys, payloads;
  for (int64_t g = first; g < first + rows; ++g) {
    ids.push_back("order-" + std::to_string(g));
    keys.push_back(std::to_string(g));
    payloads.push_back(Payload(g));
  }
  natsConnection* nc = nullptr;
  CheckNats(natsConnection_ConnectTo(&nc, url.c_str()), "connect");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 4096;
  jsCtx* js = nullptr;
  CheckNats(natsConnection_JetStream(&js, nc, &jo), "jetstream");
  const char* subjects[] = {topic.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = topic.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Duplicates = int64_t{120} * 1000000000;
  jsStreamInfo* si = nullptr;
  CheckNats(js_AddStream(&si, js, &cfg, nullptr, nullptr), "add stream");
  jsStreamInfo_Destroy(si);

  auto t0 = Clock::now();
  for (size_t i = 0; i < ids.size(); ++i) {
    natsMsg* m = nullptr;
    CheckNats(natsMsg_Create(&m, topic.c_str(), nullptr, payloads[i].data(),
                             static_cast<int>(payloads[i].size())),
              "message");
    CheckNats(natsMsgHeader_Set(m, jetstream::kKeyHeader, keys[i].c_str()), "header");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = ids[i].c_str();
    natsStatus s = js_PublishMsgAsync(js, &m, &po);
    if (m) natsMsg_Destroy(m);
    CheckNats(s, "publish");
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 60000;
  CheckNats(js_PublishAsyncComplete(js, &wait), "acks");
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  if (StreamMessages(url, topic) != static_cast<uint64_t>(rows)) {
    throw std::runtime_error("baseline: stream " + topic + " does not hold every message");
  }
  return rows / secs;
}

int Run() {
  const int64_t rows = EnvInt("DW_BENCH_NATS_ROWS", 100000);
  const int batch = static_cast<int>(EnvInt("DW_BENCH_NATS_BATCH", 1000));
  const int pairs = static_cast<int>(EnvInt("DW_BENCH_REPEATS", 3));
  const int instances = static_cast<int>(EnvInt("DW_BENCH_NATS_INSTANCES", 1));
  BenchEnvironment env;
  Check(env.Open());
  Check(env::RecreateScratchDatabase(env.dsn(), "dw_bench_nats"));
  std::string dsn;
  Check(WithDatabase(env.dsn(), "dw_bench_nats", &dsn));
  Check(outbox::EnsureSchema(dsn));
  outbox::MaintenanceReport mr;
  Check(outbox::MaintainPartitions(dsn, outbox::PartitionOptions{}, &mr));

  std::string dir, bin;
  Check(MakeTempDir("nats", &dir));
  Check(env::NatsServerBinary(&bin));
  env::ServerOptions so;
  so.data_dir = dir;
  env::ServerProcess nats(env::NatsKind(bin), so);
  Check(nats.Start());

  std::cout << "rows " << rows << ", batch " << batch << ", relay instances " << instances << ", "
            << pairs << " pairs; nats-server at " << nats.url() << "\n";
  std::vector<double> ratios;
  int64_t next = 1;
  for (int p = 0; p < pairs; ++p) {
    double drain = 0, base = 0;
    const std::string suffix = std::to_string(p);
    auto run_drain = [&] {
      drain = Drain(dsn, nats.url(), "drain_" + suffix, next, rows, batch, instances);
    };
    auto run_base = [&] { base = Baseline(nats.url(), "baseline_" + suffix, next, rows); };
    // Alternate which goes first, so a slow phase of the machine hits both.
    if (p % 2 == 0) {
      run_drain();
      run_base();
    } else {
      run_base();
      run_drain();
    }
    next += rows;
    ratios.push_back(drain / base);
    std::cout << std::fixed << std::setprecision(0) << "pair " << p + 1 << ": drain " << drain
              << " rows/s, baseline " << base << " msgs/s, ratio " << std::setprecision(2)
              << drain / base << "\n";
  }
  std::sort(ratios.begin(), ratios.end());
  std::cout << "median ratio drain/baseline: " << std::setprecision(2) << ratios[ratios.size() / 2]
            << " (target >= 0.70)\n";
  (void)nats.Stop();
  Check(env.Close());
  return 0;
}

}  // namespace
}  // namespace dw::bench

int main() {
  try {
    return dw::bench::Run();
  } catch (const std::exception& e) {
    std::cerr << "nats_bench: " << e.what() << "\n";
    return 1;
  }
}

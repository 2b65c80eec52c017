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
// Prints each pair's rates and ratio (drain / baseline), and the median,
// minimum and maximum ratio (bench/sink_drain.h).
//
// R = $DW_BENCH_NATS_ROWS (default 100,000), B = $DW_BENCH_NATS_BATCH
// (default 1000), relay instances $DW_BENCH_NATS_INSTANCES (default 1),
// pairs = $DW_BENCH_REPEATS (default 3). Postgres:
// $DW_BENCH_DSN, else an embedded environment (bench_util.h); a database
// dw_bench_nats is recreated.
#include <nats/nats.h>

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/sink_drain.h"
#include "env/nats_daemon.h"
#include "jetstream/client.h"
#include "outbox/relay_runner.h"

namespace dw::bench {
namespace {

using Clock = std::chrono::steady_clock;
using sink::EnvInt;
using sink::OrThrow;
using sink::Payload;

void CheckNats(natsStatus s, const char* what) {
  if (s != NATS_OK) throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s));
}

uint64_t StreamMessages(const std::string& url, const std::string& topic) {
  jetstream::ClientOptions co;
  co.url = url;
  std::unique_ptr<jetstream::Client> c;
  OrThrow(jetstream::Client::Connect(co, &c));
  uint64_t n = 0, last = 0;
  OrThrow(c->StreamState(topic, &n, &last));
  return n;
}

double Drain(const std::string& dsn, const std::string& url, const std::string& topic,
             int64_t first, int64_t rows, int batch, int instances, sink::CpuMeter* meter,
             sink::CpuUse* cpu) {
  sink::Prefill(dsn, topic, first, rows);
  outbox::RelayOptions ro;
  ro.dsn = dsn;
  ro.nats_url = url;
  ro.batch = batch;
  outbox::RelayReport report;
  const double s = sink::TimedDrain(ro, instances, nullptr, &report, meter, cpu);
  if (StreamMessages(url, topic) != static_cast<uint64_t>(rows)) {
    throw std::runtime_error("drain: stream " + topic + " does not hold every row");
  }
  return rows / s;
}

double Baseline(const std::string& url, const std::string& topic, int64_t first, int64_t rows,
                sink::CpuMeter* meter, sink::CpuUse* cpu) {
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

  meter->Start();
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
  *cpu = meter->Stop();
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
  OrThrow(env.Open());
  const std::string dsn = sink::OutboxDatabase(env, "dw_bench_nats");

  std::string dir, bin;
  OrThrow(MakeTempDir("nats", &dir));
  OrThrow(env::NatsServerBinary(&bin));
  env::ServerOptions so;
  so.data_dir = dir;
  env::ServerProcess nats(env::NatsKind(bin), so);
  OrThrow(nats.Start());

  std::cout << "rows " << rows << ", batch " << batch << ", relay instances " << instances << ", "
            << pairs << " pairs; nats-server at " << nats.url() << "\n";
  sink::CpuMeter meter(nats.pid(), env.postgres_pid());
  sink::Pair pair;
  pair.drain = [&](const std::string& topic, int64_t first, sink::CpuUse* cpu) {
    return Drain(dsn, nats.url(), topic, first, rows, batch, instances, &meter, cpu);
  };
  pair.baseline = [&](const std::string& topic, int64_t first, sink::CpuUse* cpu) {
    return Baseline(nats.url(), topic, first, rows, &meter, cpu);
  };
  sink::RunPairs(pairs, rows, pair);
  (void)nats.Stop();
  OrThrow(env.Close());
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

// broker_bench: what the broker participant costs per request, for each
// fsync policy, next to the floor it cannot beat, all in one run (the
// machine is shared and noisy: only ratios within a run mean something).
//
// One `dualwrite broker serve` process per policy (always, batch, never),
// each with its own data dir under /tmp, each measured through one shared
// BrokerClient (thread-safe, a pool of keep-alive connections: at 16 threads
// it holds 16 connections):
//
//   healthz/P         GET /healthz: a bare loopback HTTP round trip to the
//                     same server (baseline, part 1)
//   fdatasync/P       write() + fdatasync() of one record of exactly the size
//                     a publish appends to the broker's log, to a file in the
//                     same data dir (baseline, part 2)
//   publish/P         POST /topics/t/messages, unique id, 200-byte payload
//   prepare_commit/P  POST /transactions/{gid}/prepare (one such message),
//                     then POST /transactions/{gid}/commit
//   publish_vs_baseline/P  (always, batch) one publish and one baseline
//                     (healthz + fdatasync) per iteration, alternating: the
//                     ratio that survives a noisy shared disk (see there)
//
// at 1 and 16 client threads (fdatasync and publish_vs_baseline at 1).
// Counters: p50_us, p99_us, mean_us (per operation, all threads),
// fsyncs_per_req (delta of the broker's dw_broker_fsyncs_total over the run
// / HTTP requests sent), and items_per_second (throughput). The "Time"
// column is wall time divided by the operations of all threads, i.e. the
// inverse of throughput; at one thread it is the mean latency.
//
// After the table, a summary states its targets:
//   - a durable publish at 1 connection within 1.5x of healthz + fdatasync
//     (judged on publish_vs_baseline's ratio of means);
//   - fewer than 0.5 fsyncs per request at 16 connections with group commit.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/bench_util.h"
#include "common/record_file.h"
#include "env/proc_info.h"
#include "participants/broker_client.h"

namespace dw::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kTopic[] = "t";
constexpr size_t kPayloadBytes = 200;
constexpr char kFsyncsMetric[] = "dw_broker_fsyncs_total";
constexpr char kBytesMetric[] = "dw_broker_bytes_written_total";

// One broker process under test, and what its benchmarks share.
struct Target {
  std::string policy;
  std::unique_ptr<BrokerServer> server;
  std::unique_ptr<BrokerClient> client;
  size_t publish_record_bytes = 0;  // framed bytes one publish appends to the log
  // Per run, owned by thread 0 (see bench_util.h for the thread model).
  LatencyRecorder rec;
  double fsyncs_before = 0;
  double broker_cpu_before = -1;  // the broker process's CPU seconds at the run's start
};

const std::string& Payload() {
  static const std::string p = [] {
    std::string s;
    while (s.size() < kPayloadBytes) s += "0123456789abcdefghijklmnopqrstuvwxyz";
    s.resize(kPayloadBytes);
    return s;
  }();
  return p;
}

// An order event's payload as the outbox writer makes it (about 200 bytes
// of JSON, so a batch body escapes its quotes).
const std::string& JsonPayload() {
  static const std::string p =
      R"({"order_id":1234567,"customer_id":"customer-00042","amount_cents":129900,)"
      R"("currency":"EUR","items":[{"sku":"sku-000017","qty":2},{"sku":"sku-000023","qty":1}],)"
      R"("placed_at_us":1795000000000000,"note":"benchmark"})";
  return p;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Unique ids and gids across threads, runs and reruns against the same broker.
std::string UniqueName(const char* kind) {
  static const std::string tag =
      std::to_string(getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000007);
  static std::atomic<uint64_t> seq{0};
  return std::string(kind) + "-" + tag + "-" + std::to_string(seq.fetch_add(1));
}

void BeginRun(benchmark::State& state, Target* t) {
  if (state.thread_index() != 0) return;
  t->rec.Reset(state.threads());
  t->fsyncs_before = 0;
  t->broker_cpu_before = env::ProcessCpuSeconds(t->server->pid());
  Status s = ReadMetric(t->client.get(), kFsyncsMetric, &t->fsyncs_before);
  if (!s.ok()) state.SkipWithError(("reading /metrics: " + s.ToString()).c_str());
}

// `requests_per_op`: HTTP requests one operation sends (0: none, no fsync counter).
void EndRun(benchmark::State& state, Target* t, int requests_per_op) {
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() != 0 || state.error_occurred()) return;
  const size_t ops = ReportLatency(state, t->rec);
  if (requests_per_op == 0 || ops == 0) return;
  double after = 0;
  Status s = ReadMetric(t->client.get(), kFsyncsMetric, &after);
  if (!s.ok()) {
    state.SkipWithError(("reading /metrics: " + s.ToString()).c_str());
    return;
  }
  state.counters["fsyncs_per_req"] =
      (after - t->fsyncs_before) / (static_cast<double>(ops) * requests_per_op);
  // The threads leave the loop together (Google Benchmark's barrier), so
  // the broker's CPU since BeginRun is this run's, /metrics reads aside.
  const double cpu = env::ProcessCpuSeconds(t->server->pid());
  if (t->broker_cpu_before >= 0 && cpu >= 0) {
    state.counters["broker_cpu_us_per_op"] =
        (cpu - t->broker_cpu_before) * 1e6 / static_cast<double>(ops);
  }
}

void BM_Healthz(benchmark::State& state, Target* t) {
  BeginRun(state, t);
  const int me = state.thread_index();
  for (auto _ : state) {
    auto t0 = Clock::now();
    Status s = t->client->Health();
    t->rec.Record(me, Clock::now() - t0);
    if (!s.ok()) {
      state.SkipWithError(("GET /healthz: " + s.ToString()).c_str());
      break;
    }
  }
  EndRun(state, t, 1);
}

// The durable half of the baseline: one record of exactly the size a
// publish appends to the broker's log (RecordFile frames add 8 bytes of
// length + CRC), write() + fdatasync()ed to a file in the broker's own data
// dir, with no HTTP and no broker in the way.
class BaselineFile {
 public:
  Status Open(const Target& t) {
    RecordFile::ReplayReport report;
    framed_.clear();
    RecordFile::Frame(std::string(t.publish_record_bytes - 8, 'r'), &framed_);
    return RecordFile::Open(
        t.server->data_dir() + "/baseline-fdatasync.log",
        [](std::string_view) { return Status::OK(); }, &f_, &report);
  }
  Status WriteAndSync() {
    Status s = f_->AppendFramed(framed_);
    return s.ok() ? f_->Sync() : s;
  }
  size_t record_bytes() const { return framed_.size(); }

 private:
  std::unique_ptr<RecordFile> f_;
  std::string framed_;
};

void BM_Fdatasync(benchmark::State& state, Target* t) {
  BeginRun(state, t);
  BaselineFile f;
  Status s = f.Open(*t);
  if (!s.ok()) state.SkipWithError(("opening the baseline file: " + s.ToString()).c_str());
  const int me = state.thread_index();
  for (auto _ : state) {
    auto t0 = Clock::now();
    s = f.WriteAndSync();
    t->rec.Record(me, Clock::now() - t0);
    if (!s.ok()) {
      state.SkipWithError(("write + fdatasync: " + s.ToString()).c_str());
      break;
    }
  }
  EndRun(state, t, 0);
  state.counters["record_bytes"] = static_cast<double>(f.record_bytes());
}

void BM_Publish(benchmark::State& state, Target* t) {
  BeginRun(state, t);
  const int me = state.thread_index();
  OutMessage m{kTopic, "", "k", Payload()};
  for (auto _ : state) {
    m.id = UniqueName("m");
    uint64_t offset = 0;
    bool created = false;
    auto t0 = Clock::now();
    Status s = t->client->Publish(kTopic, m, &offset, &created);
    t->rec.Record(me, Clock::now() - t0);
    if (!s.ok() || !created) {
      state.SkipWithError(("publish: " + (s.ok() ? "duplicate id " + m.id : s.ToString())).c_str());
      break;
    }
  }
  EndRun(state, t, 1);
}

void BM_PrepareCommit(benchmark::State& state, Target* t) {
  BeginRun(state, t);
  const int me = state.thread_index();
  std::vector<OutMessage> ms = {OutMessage{kTopic, "", "k", Payload()}};
  for (auto _ : state) {
    const std::string gid = UniqueName("g");
    ms[0].id = UniqueName("m");
    auto t0 = Clock::now();
    Status s = t->client->Prepare(gid, ms);
    if (s.ok()) s = t->client->Commit(gid);
    t->rec.Record(me, Clock::now() - t0);
    if (!s.ok()) {
      state.SkipWithError(("prepare + commit " + gid + ": " + s.ToString()).c_str());
      break;
    }
  }
  EndRun(state, t, 2);
}

// What the relays send: one POST /topics/t/batch of B messages per
// iteration (unique ids, a 200-byte JSON payload like an order's, so the
// body has quotes to escape), on one connection, into a topic that keeps
// growing as it does under a long drain. Besides the time of a request it
// reports where the CPU goes: client_cpu_ms (this thread, per batch:
// encoding the body, HTTP, reading the offsets) and broker_cpu_ms (the
// broker process, per batch: parsing, sequencing against the idempotency
// index, encoding and writing the log, applying).
void BM_PublishBatch(benchmark::State& state, Target* t) {
  BeginRun(state, t);
  const size_t batch = static_cast<size_t>(state.range(0));
  std::vector<OutMessage> ms(batch, OutMessage{kTopic, "", "k", JsonPayload()});
  std::vector<uint64_t> offsets;
  const double broker_before = env::ProcessCpuSeconds(t->server->pid());
  double client_cpu = 0;
  for (auto _ : state) {
    for (auto& m : ms) m.id = UniqueName("b");
    const double c0 = ThreadCpuSeconds();
    auto t0 = Clock::now();
    Status s = t->client->PublishBatch(kTopic, ms, &offsets);
    const auto d = Clock::now() - t0;
    client_cpu += ThreadCpuSeconds() - c0;
    state.SetIterationTime(std::chrono::duration<double>(d).count());
    t->rec.Record(0, d);
    if (!s.ok()) {
      state.SkipWithError(("batch publish: " + s.ToString()).c_str());
      break;
    }
  }
  EndRun(state, t, 1);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
  const double n = static_cast<double>(state.iterations());
  const double broker_after = env::ProcessCpuSeconds(t->server->pid());
  if (n > 0 && broker_before >= 0 && broker_after >= 0) {
    state.counters["broker_cpu_ms"] = (broker_after - broker_before) * 1e3 / n;
    state.counters["client_cpu_ms"] = client_cpu * 1e3 / n;
  }
}

// The 1-connection target, measured paired. The shared disk's fdatasync
// latency swings between ~0.15 ms and ~4 ms from one second to the next
// (the ext4 journal is shared with every other process writing to the
// filesystem), so a baseline measured a few seconds apart from the publish
// says little. Here every iteration does one publish AND one baseline
// (GET /healthz, then write + fdatasync of a same-size record), in
// alternating order, so both sample the same moments of the disk.
// Counters: publish_p50_us, baseline_p50_us (of healthz + fdatasync summed
// per iteration), their ratio_p50, and ratio_mean of the means. The target
// is judged on ratio_mean: the disk's latency is bimodal (fast, or a ~4 ms
// stall when other writers hold the journal), and a median flips between
// the modes from one repetition to the next, the mean does not.
void BM_PublishVsBaseline(benchmark::State& state, Target* t) {
  BaselineFile f;
  Status s = f.Open(*t);
  if (!s.ok()) state.SkipWithError(("opening the baseline file: " + s.ToString()).c_str());
  std::vector<int64_t> pub, base;
  pub.reserve(1 << 14);
  base.reserve(1 << 14);
  OutMessage m{kTopic, "", "k", Payload()};
  uint64_t n = 0;
  for (auto _ : state) {
    for (int half = 0; half < 2; ++half) {
      if ((n + half) % 2 == 0) {
        m.id = UniqueName("m");
        uint64_t offset = 0;
        auto t0 = Clock::now();
        s = t->client->Publish(kTopic, m, &offset);
        pub.push_back((Clock::now() - t0).count());
        if (!s.ok()) s = Status::IOError("publish: " + s.ToString());
      } else {
        auto t0 = Clock::now();
        s = t->client->Health();
        if (s.ok()) s = f.WriteAndSync();
        base.push_back((Clock::now() - t0).count());
        if (!s.ok()) s = Status::IOError("baseline: " + s.ToString());
      }
      if (!s.ok()) break;
    }
    ++n;
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  if (state.error_occurred() || pub.empty()) return;
  auto mean = [](const std::vector<int64_t>& v) {
    double sum = 0;
    for (int64_t x : v) sum += static_cast<double>(x);
    return sum / static_cast<double>(v.size());
  };
  const double pub_mean = mean(pub), base_mean = mean(base);
  std::sort(pub.begin(), pub.end());
  std::sort(base.begin(), base.end());
  const double pub50 = Percentile(pub, 0.5) / 1e3, base50 = Percentile(base, 0.5) / 1e3;
  state.counters["publish_p50_us"] = pub50;
  state.counters["baseline_p50_us"] = base50;
  state.counters["ratio_p50"] = pub50 / base50;
  state.counters["ratio_mean"] = pub_mean / base_mean;
}

// Starts the broker, connects, and publishes once to learn the size of a
// publish record (and to create the topic before anything is timed).
Status SetUp(const std::string& root, Target* t) {
  t->server = std::make_unique<BrokerServer>(root + "/" + t->policy, t->policy);
  Status s = t->server->Start();
  if (!s.ok()) return s;
  BrokerClient::Options co;
  co.url = t->server->url();
  co.timeout = std::chrono::seconds(30);  // fsync=always at 16 threads queues behind the disk
  co.max_idle_connections = 64;
  s = BrokerClient::Create(co, &t->client);
  if (!s.ok()) return s;
  double before = 0, after = 0;
  s = ReadMetric(t->client.get(), kBytesMetric, &before);
  if (!s.ok()) return s;
  uint64_t offset = 0;
  s = t->client->Publish(kTopic, OutMessage{kTopic, UniqueName("m"), "k", Payload()}, &offset);
  if (!s.ok()) return s;
  s = ReadMetric(t->client.get(), kBytesMetric, &after);
  if (!s.ok()) return s;
  t->publish_record_bytes = static_cast<size_t>(after - before);
  if (t->publish_record_bytes <= 8) {
    return Status::IOError("a publish wrote " + std::to_string(t->publish_record_bytes) +
                           " bytes to the log (fsync=" + t->policy + ")");
  }
  return Status::OK();
}

void Register(Target* t) {
  const std::string& p = t->policy;
  benchmark::RegisterBenchmark(("healthz/" + p).c_str(), BM_Healthz, t)
      ->UseRealTime()
      ->Threads(1)
      ->Threads(16);
  benchmark::RegisterBenchmark(("fdatasync/" + p).c_str(), BM_Fdatasync, t)
      ->UseRealTime()
      ->Threads(1);
  benchmark::RegisterBenchmark(("publish/" + p).c_str(), BM_Publish, t)
      ->UseRealTime()
      ->Threads(1)
      ->Threads(16);
  benchmark::RegisterBenchmark(("prepare_commit/" + p).c_str(), BM_PrepareCommit, t)
      ->UseRealTime()
      ->Threads(1)
      ->Threads(16);
  if (p == "batch") {  // what a relay's batch costs
    benchmark::RegisterBenchmark(("publish_batch/" + p).c_str(), BM_PublishBatch, t)
        ->Arg(100)
        ->Arg(1000)
        ->ArgName("messages")
        ->UseManualTime()
        ->MinTime(2.0);
  }
  if (p != "never") {  // the target is about durable publishes
    benchmark::RegisterBenchmark(("publish_vs_baseline/" + p).c_str(), BM_PublishVsBaseline, t)
        ->UseRealTime()
        ->Threads(1);
  }
}

std::string Name(const std::string& bench, const std::string& policy, int threads) {
  return bench + "/" + policy + "/real_time/threads:" + std::to_string(threads);
}

double Counter(const std::optional<KeepingReporter::Result>& r, const std::string& k) {
  auto it = r->counters.find(k);
  return it == r->counters.end() ? 0 : it->second;
}

// The measured table in Markdown (what bench/README.md records) and the
// targets, computed from this run only.
void PrintSummary(const KeepingReporter& rep, const std::vector<std::unique_ptr<Target>>& ts) {
  std::printf(
      "\n| benchmark | fsync | threads | ns/op (wall/ops) | ops/s | p50 µs | p99 µs | "
      "fsyncs/request |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& t : ts) {
    for (const char* b : {"healthz", "fdatasync", "publish", "prepare_commit"}) {
      for (int th : {1, 16}) {
        const auto r = rep.Find(Name(b, t->policy, th));
        if (!r) continue;
        char fs[32] = "-";
        if (r->counters.count("fsyncs_per_req")) {
          std::snprintf(fs, sizeof fs, "%.3f", Counter(r, "fsyncs_per_req"));
        }
        std::printf("| %s | %s | %d | %.0f | %.0f | %.1f | %.1f | %s |\n", b, t->policy.c_str(), th,
                    r->real_ns_per_op, 1e9 / r->real_ns_per_op, Counter(r, "p50_us"),
                    Counter(r, "p99_us"), fs);
      }
    }
  }

  std::printf(
      "\nPaired, 1 connection (publish and baseline alternate within one benchmark):\n\n"
      "| fsync | publish p50 µs | baseline p50 µs (healthz + fdatasync of a %zu-byte record) | "
      "publish / baseline, p50 | publish / baseline, mean |\n|---|---:|---:|---:|---:|\n",
      ts.empty() ? size_t{0} : ts.front()->publish_record_bytes);
  for (const auto& t : ts) {
    const auto r = rep.Find("publish_vs_baseline/" + t->policy + "/real_time/threads:1");
    if (!r) continue;
    std::printf("| %s | %.1f | %.1f | %.2f | %.2f |\n", t->policy.c_str(),
                Counter(r, "publish_p50_us"), Counter(r, "baseline_p50_us"),
                Counter(r, "ratio_p50"), Counter(r, "ratio_mean"));
  }

  std::printf(
      "\nBatch publish, fsync=batch, 1 connection (a relay's request):\n\n"
      "| messages | p50 ms | messages/s | client CPU ms/batch | broker CPU ms/batch |\n"
      "|---:|---:|---:|---:|---:|\n");
  for (int n : {100, 1000}) {
    const auto r = rep.Find("publish_batch/batch/messages:" + std::to_string(n) +
                            "/min_time:2.000/manual_time");
    if (!r) continue;
    std::printf("| %d | %.2f | %.0f | %.2f | %.2f |\n", n, Counter(r, "p50_us") / 1e3,
                n * 1e9 / r->real_ns_per_op, Counter(r, "client_cpu_ms"),
                Counter(r, "broker_cpu_ms"));
  }

  std::printf("\nTargets, ratios within this run:\n");
  for (const auto& t : ts) {
    if (t->policy == "never") continue;  // not durable: no target
    const auto r = rep.Find("publish_vs_baseline/" + t->policy + "/real_time/threads:1");
    if (!r) continue;
    const double p50 = Counter(r, "ratio_p50"), mean = Counter(r, "ratio_mean");
    std::printf(
        "  durable publish, fsync=%s, 1 conn: %.2fx the baseline in means (p50: %.2fx)  "
        "target <= 1.5x: %s\n",
        t->policy.c_str(), mean, p50, mean <= 1.5 ? "MET" : "NOT MET");
  }
  for (const auto& t : ts) {
    if (t->policy != "batch") continue;
    for (const char* b : {"publish", "prepare_commit"}) {
      const auto r = rep.Find(Name(b, "batch", 16));
      if (!r) continue;
      const double f = Counter(r, "fsyncs_per_req");
      std::printf("  %s, fsync=batch, 16 conns: %.3f fsyncs per request  target < 0.5: %s\n", b, f,
                  f < 0.5 ? "MET" : "NOT MET");
    }
  }
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::string root;
  Status s = MakeTempDir("broker", &root);
  if (!s.ok()) {
    std::cerr << "broker_bench: " << s.ToString() << "\n";
    return 1;
  }
  std::vector<std::unique_ptr<Target>> targets;
  for (const char* policy : {"always", "batch", "never"}) {
    auto t = std::make_unique<Target>();
    t->policy = policy;
    s = SetUp(root, t.get());
    targets.push_back(std::move(t));
    if (!s.ok()) break;
    Register(targets.back().get());
  }
  int rc = 0;
  if (!s.ok()) {
    std::cerr << "broker_bench: setting up the brokers: " << s.ToString() << "\n";
    rc = 1;
  } else {
    KeepingReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                   : benchmark::ConsoleReporter::OO_Tabular);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    PrintSummary(reporter, targets);
  }
  for (auto& t : targets) {
    t->client.reset();
    Status st = t->server ? t->server->Stop() : Status::OK();
    if (!st.ok()) std::cerr << "broker_bench: " << st.ToString() << "\n";
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  benchmark::Shutdown();
  return rc;
}

}  // namespace
}  // namespace dw::bench

int main(int argc, char** argv) { return dw::bench::Main(argc, argv); }

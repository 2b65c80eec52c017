#include "workload/load_runner.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>

#include "workload/orders.h"

namespace dw::workload {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

}  // namespace

namespace {

// User + system CPU of this whole process so far: the load command's own
// cost (coordinator or writer threads, its clients, setup), which compare
// divides by the operations to charge the load process per operation.
double ProcessCpuSecondsNow() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

}  // namespace

nlohmann::json LoadSummary::ToJson() const {
  nlohmann::json j = {
      {"committed", committed},
      {"aborted", aborted},
      {"failed", failed},
      {"elapsed_s", elapsed_s},
      {"throughput_per_s", throughput_per_s},
      {"process_cpu_s", ProcessCpuSecondsNow()},
      {"latency_ms",
       {{"p50", Ms(latency.Percentile(0.50))},
        {"p95", Ms(latency.Percentile(0.95))},
        {"p99", Ms(latency.Percentile(0.99))},
        {"p999", Ms(latency.Percentile(0.999))},
        {"max", Ms(latency.max())},
        {"mean", latency.mean() / 1000.0}}},
  };
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  return j;
}

std::string LoadSummary::ToText() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "committed %" PRIu64 ", aborted %" PRIu64 ", failed %" PRIu64
                " in %.2f s: %.0f ops/s\n"
                "latency ms: p50 %.3f  p95 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
                committed, aborted, failed, elapsed_s, throughput_per_s,
                Ms(latency.Percentile(0.5)), Ms(latency.Percentile(0.95)),
                Ms(latency.Percentile(0.99)), Ms(latency.Percentile(0.999)), Ms(latency.max()));
  std::string out = buf;
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    out += it.key() + ": " + it.value().dump() + "\n";
  }
  return out;
}

LoadSummary RunLoad(const LoadOptions& opts, const Operation& op) {
  LoadSummary s;
  LoadOptions o = opts;
  o.samples_path.clear();
  (void)RunLoad(o, op, &s);
  return s;
}

Status RunLoad(const LoadOptions& opts, const Operation& op, LoadSummary* out) {
  return RunLoad(
      opts, [&op](int w, int64_t i, int64_t*) { return op(w, i); }, out);
}

Status RunLoad(const LoadOptions& opts, const KeyedOperation& op, LoadSummary* out) {
  return RunLoad(
      opts, 1,
      [&op](int w, const std::vector<int64_t>& idx, std::vector<Outcome>* o,
            std::vector<int64_t>* keys) { (*o)[0] = op(w, idx[0], &(*keys)[0]); },
      out);
}

Status RunLoad(const LoadOptions& opts, int batch, const BatchOperation& op, LoadSummary* out) {
  batch = std::max(1, batch);
  std::FILE* sink = nullptr;
  if (!opts.samples_path.empty()) {
    sink = std::fopen(opts.samples_path.c_str(), "a");
    if (sink == nullptr) {
      return Status::IOError("cannot open the samples file " + opts.samples_path + ": " +
                             std::strerror(errno));
    }
  }
  std::mutex sink_mu;
  const int64_t t0_unix_us = NowMicros();
  const int workers = std::max(1, (opts.concurrency + batch - 1) / batch);
  const bool open_loop = opts.rate > 0;
  const bool progress = opts.progress && isatty(STDERR_FILENO);
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop{false};
  struct PerWorker {
    Histogram h;
    uint64_t committed = 0, aborted = 0, failed = 0;
    std::vector<Sample> samples;
  };
  std::vector<PerWorker> per(workers);
  const auto t0 = Clock::now();
  const auto deadline = opts.duration.count() > 0 ? t0 + opts.duration : Clock::time_point::max();
  const auto hard_deadline =
      opts.duration.count() > 0 && opts.min_transactions > 0 ? t0 + 10 * opts.duration : deadline;
  // Past `deadline`, an operation starts only while fewer than
  // min_transactions have completed (and never past `hard_deadline`).
  auto past_deadline = [&](Clock::time_point at) {
    if (at < deadline) return false;
    if (at >= hard_deadline) return true;
    return done.load(std::memory_order_relaxed) >= opts.min_transactions;
  };

  auto body = [&](int w) {
    PerWorker& me = per[w];
    std::vector<int64_t> idx;
    std::vector<Clock::time_point> intended;
    std::vector<Outcome> outcomes;
    std::vector<int64_t> keys;
    for (;;) {
      if (stop.load(std::memory_order_relaxed)) return;
      const int64_t first = next.fetch_add(batch);
      int64_t n = batch;
      if (opts.transactions > 0) n = std::min<int64_t>(n, opts.transactions - first);
      if (n <= 0) return;
      idx.clear();
      intended.clear();
      const Clock::time_point now = Clock::now();
      for (int64_t i = first; i < first + n; ++i) {
        Clock::time_point at =
            open_loop ? t0 + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(i) / opts.rate))
                      : now;
        if (past_deadline(at)) break;
        idx.push_back(i);
        intended.push_back(at);
      }
      if (idx.empty()) return;
      if (open_loop) std::this_thread::sleep_until(intended.back());
      outcomes.assign(idx.size(), Outcome::kFailed);
      keys.assign(idx.size(), 0);
      op(w, idx, &outcomes, &keys);
      auto end = Clock::now();
      for (size_t k = 0; k < idx.size(); ++k) {
        const Outcome o = outcomes[k];
        int64_t lat =
            std::chrono::duration_cast<std::chrono::microseconds>(end - intended[k]).count();
        me.h.Record(lat);
        switch (o) {
          case Outcome::kCommitted:
            ++me.committed;
            break;
          case Outcome::kAborted:
            ++me.aborted;
            break;
          case Outcome::kFailed:
            ++me.failed;
            break;
        }
        const int64_t start_us =
            std::chrono::duration_cast<std::chrono::microseconds>(intended[k] - t0).count();
        if (opts.record_samples) me.samples.push_back({start_us, lat, o});
        if (sink != nullptr) {
          const char c = o == Outcome::kCommitted ? 'c' : o == Outcome::kAborted ? 'a' : 'f';
          std::lock_guard<std::mutex> l(sink_mu);
          std::fprintf(sink, "%" PRId64 ",%" PRId64 ",%c,%" PRId64 "\n", t0_unix_us + start_us, lat,
                       c, keys[k]);
          std::fflush(sink);  // into the kernel: survives a SIGKILL of this process
        }
        done.fetch_add(1, std::memory_order_relaxed);
      }
      if (static_cast<int64_t>(idx.size()) < n) return;  // the deadline came
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (int w = 0; w < workers; ++w) threads.emplace_back(body, w);

  std::thread reporter;
  std::atomic<bool> finished{false};
  if (progress) {
    reporter = std::thread([&] {
      while (!finished.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        double el = std::chrono::duration<double>(Clock::now() - t0).count();
        int64_t d = done.load();
        double rate = el > 0 ? d / el : 0;
        if (opts.transactions > 0) {
          double eta = rate > 0 ? (opts.transactions - d) / rate : 0;
          std::fprintf(stderr, "\r[%s] %" PRId64 "/%" PRId64 " ops  %.1f s  %.0f/s  eta %.0f s   ",
                       opts.label.c_str(), d, opts.transactions, el, rate, eta);
        } else {
          std::fprintf(stderr, "\r[%s] %" PRId64 " ops  %.1f s  %.0f/s   ", opts.label.c_str(), d,
                       el, rate);
        }
        std::fflush(stderr);
      }
      std::fprintf(stderr, "\r\033[K");
    });
  }
  for (auto& t : threads) t.join();
  finished = true;
  if (reporter.joinable()) reporter.join();

  LoadSummary s;
  s.elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& p : per) {
    s.latency.Merge(p.h);
    s.committed += p.committed;
    s.aborted += p.aborted;
    s.failed += p.failed;
    if (opts.record_samples) {
      s.samples.insert(s.samples.end(), p.samples.begin(), p.samples.end());
    }
  }
  std::sort(s.samples.begin(), s.samples.end(),
            [](const Sample& a, const Sample& b) { return a.start_us < b.start_us; });
  s.throughput_per_s = s.elapsed_s > 0 ? s.committed / s.elapsed_s : 0;
  if (sink != nullptr) std::fclose(sink);
  *out = std::move(s);
  return Status::OK();
}

}  // namespace dw::workload

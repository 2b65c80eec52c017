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
  const int workers = std::max(1, opts.concurrency);
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
    for (;;) {
      if (stop.load(std::memory_order_relaxed)) return;
      int64_t i = next.fetch_add(1);
      if (opts.transactions > 0 && i >= opts.transactions) return;
      Clock::time_point intended;
      if (open_loop) {
        intended = t0 + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(static_cast<double>(i) / opts.rate));
        if (past_deadline(intended)) return;
        std::this_thread::sleep_until(intended);
      } else {
        intended = Clock::now();
        if (past_deadline(intended)) return;
      }
      int64_t key = 0;
      Outcome o = op(w, i, &key);
      auto end = Clock::now();
      int64_t lat = std::chrono::duration_cast<std::chrono::microseconds>(end - intended).count();
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
      if (opts.record_samples) {
        me.samples.push_back(
            {std::chrono::duration_cast<std::chrono::microseconds>(intended - t0).count(), lat, o});
      }
      if (sink != nullptr) {
        const int64_t at =
            t0_unix_us +
            std::chrono::duration_cast<std::chrono::microseconds>(intended - t0).count();
        const char c = o == Outcome::kCommitted ? 'c' : o == Outcome::kAborted ? 'a' : 'f';
        std::lock_guard<std::mutex> l(sink_mu);
        std::fprintf(sink, "%" PRId64 ",%" PRId64 ",%c,%" PRId64 "\n", at, lat, c, key);
        std::fflush(sink);  // into the kernel: survives a SIGKILL of this process
      }
      done.fetch_add(1, std::memory_order_relaxed);
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

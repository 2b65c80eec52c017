#include "bench/bench_util.h"

#include "participants/pg_dsn.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "common/dsn.h"
#include "common/process.h"

namespace dw::bench {

namespace fs = std::filesystem;

std::string DualwriteBinary() {
  const char* env = std::getenv("DUALWRITE_BINARY");
  if (env && *env) return env;
  return DW_BINARY;
}

Status MakeTempDir(const std::string& tag, std::string* out) {
  std::string tmpl = "/tmp/dw-bench-" + tag + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) return Status::IOError("mkdtemp " + tmpl + " failed");
  // mkdtemp makes it 0700; the postgres OS user needs to traverse it.
  if (chmod(tmpl.c_str(), 0755) != 0) return Status::IOError("chmod " + tmpl + " failed");
  *out = tmpl;
  return Status::OK();
}

// ---------------------------------------------------------------- metrics

Status MetricValue(const std::string& text, const std::string& name, double* out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // "name value": an unlabelled sample; "name{...} value" and "name_suffix"
    // do not match because the character after the name must be a space.
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      try {
        *out = std::stod(line.substr(name.size() + 1));
      } catch (const std::exception&) {
        return Status::Corruption("metric " + name + ": bad value in '" + line + "'");
      }
      return Status::OK();
    }
  }
  return Status::NotFound("metric " + name + " not in /metrics");
}

Status ReadMetric(BrokerClient* client, const std::string& name, double* out) {
  HttpResponse r;
  Status s = client->Request("GET", "/metrics", "", &r);
  if (!s.ok()) return s;
  if (r.status != 200) return Status::IOError("GET /metrics: HTTP " + std::to_string(r.status));
  return MetricValue(r.body, name, out);
}

// ---------------------------------------------------------------- Postgres

Status WithDatabase(const std::string& dsn, const std::string& dbname, std::string* out) {
  return DsnWithDatabase(dsn, dbname, out);
}

// ---------------------------------------------------------------- BenchEnvironment

BenchEnvironment::~BenchEnvironment() {
  Status s = Close();
  if (!s.ok()) std::cerr << "bench: " << s.ToString() << "\n";
}

Status BenchEnvironment::Open() {
  const char* dsn = std::getenv("DW_BENCH_DSN");
  if (dsn && *dsn) {
    dsn_ = dsn;
    return Status::OK();
  }
  const char* dir = std::getenv("DW_BENCH_STATE_DIR");
  if (dir && *dir) {
    state_dir_ = dir;
  } else {
    Status s = MakeTempDir("env", &state_dir_);
    if (!s.ok()) return s;
  }
  std::cerr << "bench: bringing up an embedded environment in " << state_dir_
            << " (if interrupted: " << DualwriteBinary() << " down --purge --state-dir "
            << state_dir_ << ")\n";
  owned_ = true;  // from here on Close() must take it down, even after a failed up
  std::string output;
  Status s = RunCommand({DualwriteBinary(), "up", "--state-dir", state_dir_}, &output);
  if (!s.ok())
    return Status::Unavailable("dualwrite up --state-dir " + state_dir_ + ": " + s.ToString());
  s = RunCommand({DualwriteBinary(), "env", "--json", "--state-dir", state_dir_}, &output);
  if (!s.ok()) return s;
  auto j = nlohmann::json::parse(output, nullptr, false);
  if (j.is_discarded() || !j.contains("dsn") || !j["dsn"].is_string()) {
    return Status::IOError("`dualwrite env --json` printed no dsn: " + output);
  }
  dsn_ = j["dsn"].get<std::string>();
  if (j.contains("postgres_pid") && j["postgres_pid"].is_number_integer()) {
    postgres_pid_ = j["postgres_pid"].get<pid_t>();
  }
  return Status::OK();
}

Status BenchEnvironment::Close() {
  if (!owned_) return Status::OK();
  owned_ = false;
  std::string output;
  Status s = RunCommand({DualwriteBinary(), "down", "--purge", "--state-dir", state_dir_}, &output);
  if (!s.ok()) return Status::IOError("dualwrite down --purge failed: " + s.ToString());
  return Status::OK();
}

// ---------------------------------------------------------------- latencies

void LatencyRecorder::Reset(int threads) {
  slots_.assign(threads, Slot{});
  // Reserving up front keeps reallocation out of the timed loop in the common case.
  for (auto& s : slots_) s.ns.reserve(1 << 14);
}

std::vector<int64_t> LatencyRecorder::Sorted() const {
  std::vector<int64_t> all;
  for (const auto& s : slots_) all.insert(all.end(), s.ns.begin(), s.ns.end());
  std::sort(all.begin(), all.end());
  return all;
}

int64_t Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the smallest value with at least q of the sample at or below it.
  size_t rank = static_cast<size_t>(std::ceil(q * sorted.size()));
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

size_t ReportLatency(benchmark::State& state, const LatencyRecorder& rec) {
  std::vector<int64_t> v = rec.Sorted();
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  state.counters["p50_us"] = Percentile(v, 0.50) / 1e3;
  state.counters["p99_us"] = Percentile(v, 0.99) / 1e3;
  state.counters["mean_us"] = v.empty() ? 0.0 : sum / v.size() / 1e3;
  return v.size();
}

// ---------------------------------------------------------------- reporter

void KeepingReporter::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& r : runs) {
    // Aggregates (mean/median/stddev rows) are recomputed by Find; failed
    // runs carry no numbers.
    if (r.run_type != Run::RT_Iteration || r.error_occurred || r.iterations == 0) continue;
    Result res;
    res.real_ns_per_op = r.real_accumulated_time * 1e9 / r.iterations;
    for (const auto& [k, c] : r.counters) res.counters[k] = c.value;
    res.repetitions = 1;
    results_[r.benchmark_name()].push_back(std::move(res));
  }
  ConsoleReporter::ReportRuns(runs);
}

namespace {
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
}  // namespace

std::optional<KeepingReporter::Result> KeepingReporter::Find(const std::string& name) const {
  auto it = results_.find(name);
  if (it == results_.end() || it->second.empty()) return std::nullopt;
  const auto& runs = it->second;
  Result out;
  out.repetitions = static_cast<int>(runs.size());
  std::vector<double> v;
  for (const auto& r : runs) v.push_back(r.real_ns_per_op);
  out.real_ns_per_op = Median(v);
  for (const auto& [k, unused] : runs.front().counters) {
    v.clear();
    for (const auto& r : runs) {
      auto c = r.counters.find(k);
      if (c != r.counters.end()) v.push_back(c->second);
    }
    out.counters[k] = Median(v);
  }
  return out;
}

}  // namespace dw::bench

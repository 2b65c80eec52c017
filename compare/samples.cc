#include "compare/samples.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <unordered_set>

namespace dw::compare {

Status ReadSamples(const std::string& path, std::vector<SampleRow>* out) {
  out->clear();
  std::ifstream in(path);
  if (!in) return Status::NotFound("no samples file " + path);
  for (std::string line; std::getline(in, line);) {
    SampleRow r;
    char c = 0;
    const int n = std::sscanf(line.c_str(), "%" SCNd64 ",%" SCNd64 ",%c,%" SCNd64, &r.start_us,
                              &r.latency_us, &c, &r.key);
    if (n >= 3 && (c == 'c' || c == 'a' || c == 'f')) {
      r.outcome = c;
      out->push_back(r);
    }
  }
  return Status::OK();
}

void WindowStats::Add(const SampleRow& r) {
  ++attempted;
  latency.Record(r.latency_us);
  if (r.outcome == 'c') {
    ++succeeded;
    ok_latency.Record(r.latency_us);
  } else {
    ++failed;
    fail_latency.Record(r.latency_us);
  }
}

results::Ops WindowStats::ToOps() const {
  results::Ops o;
  o.attempted = attempted;
  o.offered = static_cast<double>(attempted);
  o.offered.written_as_integer = true;
  o.succeeded = succeeded;
  o.failed = failed;
  o.availability = attempted ? results::Field<double>(static_cast<double>(succeeded) / attempted)
                             : results::Field<double>(nullptr);
  return o;
}

WindowStats Window(const std::vector<SampleRow>& rows, int64_t from_us, int64_t to_us) {
  WindowStats w;
  for (const auto& r : rows) {
    if (r.start_us >= from_us && r.start_us < to_us) w.Add(r);
  }
  return w;
}

std::vector<results::TimelineBucket> Timeline(const std::vector<SampleRow>& rows, int64_t origin_us,
                                              int64_t from_us, int64_t to_us, int64_t bucket_us) {
  std::vector<results::TimelineBucket> out;
  if (to_us <= from_us || bucket_us <= 0) return out;
  const size_t n = static_cast<size_t>((to_us - from_us + bucket_us - 1) / bucket_us);
  std::vector<WindowStats> b(n);
  for (const auto& r : rows) {
    if (r.start_us < from_us || r.start_us >= to_us) continue;
    b[static_cast<size_t>((r.start_us - from_us) / bucket_us)].Add(r);
  }
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = from_us + static_cast<int64_t>(i) * bucket_us - origin_us;
    results::TimelineBucket& k = out.emplace_back();
    k.t_s = static_cast<double>(t) / 1e6;
    k.offered = static_cast<double>(b[i].attempted);  // a count until a fixed rate adds to it
    k.offered.written_as_integer = true;
    k.ok = b[i].succeeded;
    k.failed = b[i].failed;
    k.p99_ms = b[i].succeeded ? results::Field<double>(b[i].ok_latency.Percentile(0.99) / 1e3)
                              : results::Field<double>(nullptr);
  }
  return out;
}

std::vector<results::LostPoint> LostTimeline(const std::vector<SampleRow>& rows,
                                             const std::vector<int64_t>& lost_keys,
                                             int64_t origin_us, int64_t from_us, int64_t to_us,
                                             int64_t bucket_us) {
  std::vector<results::LostPoint> out;
  if (lost_keys.empty() || to_us <= from_us || bucket_us <= 0) return out;
  std::unordered_set<int64_t> lost(lost_keys.begin(), lost_keys.end());
  const size_t n = static_cast<size_t>((to_us - from_us + bucket_us - 1) / bucket_us);
  std::vector<uint64_t> per(n, 0);
  for (const auto& r : rows) {
    if (r.outcome != 'c' || !lost.count(r.key)) continue;
    if (r.start_us < from_us || r.start_us >= to_us) continue;
    ++per[static_cast<size_t>((r.start_us - from_us) / bucket_us)];
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i < n; ++i) {
    cumulative += per[i];
    const int64_t t = from_us + static_cast<int64_t>(i + 1) * bucket_us - origin_us;
    results::LostPoint& p = out.emplace_back();
    p.t_s = static_cast<double>(t) / 1e6;
    p.lost = cumulative;
  }
  return out;
}

std::optional<double> BacklogGrowthPerS(const std::vector<SampleRow>& rows,
                                        std::vector<int64_t> read_at_us, int64_t from_us,
                                        int64_t to_us) {
  if (to_us - from_us < 4 * 10'000) return std::nullopt;
  std::vector<int64_t> committed_at;
  for (const auto& r : rows) {
    if (r.outcome == 'c') committed_at.push_back(r.start_us + r.latency_us);
  }
  std::sort(committed_at.begin(), committed_at.end());
  std::sort(read_at_us.begin(), read_at_us.end());
  // Committed but not yet readable at t, sampled every 10 ms.
  auto backlog = [&](int64_t t) {
    const auto c =
        std::upper_bound(committed_at.begin(), committed_at.end(), t) - committed_at.begin();
    const auto d = std::upper_bound(read_at_us.begin(), read_at_us.end(), t) - read_at_us.begin();
    return static_cast<double>(c - d);
  };
  auto mean = [&](int64_t a, int64_t b) {
    double sum = 0;
    int n = 0;
    for (int64_t t = a; t < b; t += 10'000, ++n) sum += backlog(t);
    return n ? sum / n : 0.0;
  };
  const int64_t q = (to_us - from_us) / 4;
  const double second = mean(from_us + q, from_us + 2 * q);
  const double last = mean(from_us + 3 * q, to_us);
  return (last - second) / (2.0 * static_cast<double>(q) / 1e6);
}

std::vector<results::CdfPoint> CdfMs(const Histogram& h, size_t points) {
  auto cdf = h.Cdf();
  std::vector<results::CdfPoint> out;
  if (cdf.empty()) return out;
  const size_t step = std::max<size_t>(1, (cdf.size() + points - 1) / points);
  for (size_t i = 0; i < cdf.size(); i += step) {
    out.push_back({static_cast<double>(cdf[i].first) / 1e3, cdf[i].second});
  }
  if ((cdf.size() - 1) % step != 0) {
    out.push_back({static_cast<double>(cdf.back().first) / 1e3, cdf.back().second});
  }
  return out;
}

results::Field<results::Percentiles> PercentilesMs(const Histogram& h, bool with_count) {
  if (h.count() == 0) return nullptr;
  results::Percentiles p;
  p.p50 = h.Percentile(0.50) / 1e3;
  p.p95 = h.Percentile(0.95) / 1e3;
  p.p99 = h.Percentile(0.99) / 1e3;
  p.p999 = h.Percentile(0.999) / 1e3;
  p.max = static_cast<double>(h.max()) / 1e3;
  p.mean = h.mean() / 1e3;
  if (with_count) p.count = h.count();
  return p;
}

}  // namespace dw::compare

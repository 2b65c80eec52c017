#include "compare/samples.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>

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

nlohmann::json WindowStats::ToJson() const {
  return {{"attempted", attempted}, {"succeeded", succeeded}, {"failed", failed}};
}

WindowStats Window(const std::vector<SampleRow>& rows, int64_t from_us, int64_t to_us) {
  WindowStats w;
  for (const auto& r : rows) {
    if (r.start_us < from_us || r.start_us >= to_us) continue;
    ++w.attempted;
    (r.outcome == 'c' ? w.succeeded : w.failed) += 1;
    w.latency.Record(r.latency_us);
  }
  return w;
}

nlohmann::json Timeline(const std::vector<SampleRow>& rows, int64_t origin_us, int64_t from_us,
                        int64_t to_us, int64_t bucket_us) {
  nlohmann::json out = nlohmann::json::array();
  if (to_us <= from_us || bucket_us <= 0) return out;
  const size_t n = static_cast<size_t>((to_us - from_us + bucket_us - 1) / bucket_us);
  std::vector<WindowStats> b(n);
  for (const auto& r : rows) {
    if (r.start_us < from_us || r.start_us >= to_us) continue;
    auto& w = b[static_cast<size_t>((r.start_us - from_us) / bucket_us)];
    ++w.attempted;
    (r.outcome == 'c' ? w.succeeded : w.failed) += 1;
    w.latency.Record(r.latency_us);
  }
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = from_us + static_cast<int64_t>(i) * bucket_us - origin_us;
    out.push_back({{"t_s", static_cast<double>(t) / 1e6},
                   {"ok", b[i].succeeded},
                   {"failed", b[i].failed},
                   {"p99_ms", b[i].attempted ? nlohmann::json(b[i].latency.Percentile(0.99) / 1e3)
                                             : nlohmann::json(nullptr)}});
  }
  return out;
}

nlohmann::json CdfJson(const Histogram& h, size_t points) {
  auto cdf = h.Cdf();
  nlohmann::json out = nlohmann::json::array();
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

nlohmann::json PercentilesJson(const Histogram& h, bool with_count) {
  if (h.count() == 0) return nullptr;
  nlohmann::json j = {
      {"p50", h.Percentile(0.50) / 1e3},           {"p95", h.Percentile(0.95) / 1e3},
      {"p99", h.Percentile(0.99) / 1e3},           {"p999", h.Percentile(0.999) / 1e3},
      {"max", static_cast<double>(h.max()) / 1e3}, {"mean", h.mean() / 1e3}};
  if (with_count) j["count"] = h.count();
  return j;
}

}  // namespace dw::compare

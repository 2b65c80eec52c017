// Histogram: latency recording with bounded relative error (log-linear
// buckets in the manner of HdrHistogram, ~0.2% precision), mergeable, so
// each worker records into its own and the runner merges them. Percentiles
// come from the buckets, never from a sorted sample that would have to be
// kept whole.
#pragma once

#include <cstdint>
#include <vector>

namespace dw {

class Histogram {
 public:
  Histogram();

  // Records one value in microseconds (negative values count as 0).
  void Record(int64_t micros);
  void Merge(const Histogram& other);
  void Clear();

  uint64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The smallest recorded value v such that at least q (0..1) of values are <= v
  // (to bucket precision; the top percentile reports the exact max).
  int64_t Percentile(double q) const;

  // (value_us, cumulative fraction) points for CDF plots, one per non-empty bucket.
  std::vector<std::pair<int64_t, double>> Cdf() const;

 private:
  static int BucketOf(int64_t v);
  static int64_t BucketUpper(int b);
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  int64_t sum_ = 0;
};

}  // namespace dw

#include "common/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dw {
namespace {
// Values below 2^kSubBits are exact; above, each power of two is split into
// 2^(kSubBits-1) linear sub-buckets: relative error <= 2^-(kSubBits-1) = 0.2%.
constexpr int kSubBits = 10;
constexpr int64_t kSub = int64_t{1} << kSubBits;      // 1024
constexpr int64_t kHalf = kSub / 2;                    // 512
constexpr int kMaxExp = 63 - kSubBits;                 // enough for int64
constexpr int kBuckets = kSub + kMaxExp * kHalf;
}  // namespace

Histogram::Histogram() : buckets_(kBuckets, 0) {}

int Histogram::BucketOf(int64_t v) {
  if (v < kSub) return static_cast<int>(v);
  int e = std::bit_width(static_cast<uint64_t>(v)) - kSubBits;  // >= 1
  int64_t sub = v >> e;                                         // in [512, 1024)
  return static_cast<int>(kSub + (e - 1) * kHalf + (sub - kHalf));
}

int64_t Histogram::BucketUpper(int b) {
  if (b < kSub) return b;
  int e = (b - kSub) / kHalf + 1;
  int64_t sub = (b - kSub) % kHalf + kHalf;
  return ((sub + 1) << e) - 1;
}

void Histogram::Record(int64_t v) {
  if (v < 0) v = 0;
  ++buckets_[BucketOf(v)];
  if (count_ == 0 || v < min_) min_ = v;
  if (v > max_) max_ = v;
  ++count_;
  sum_ += v;
}

void Histogram::Merge(const Histogram& o) {
  if (o.count_ == 0) return;
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  if (count_ == 0 || o.min_ < min_) min_ = o.min_;
  max_ = std::max(max_, o.max_);
  count_ += o.count_;
  sum_ += o.sum_;
}

void Histogram::Clear() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  min_ = max_ = sum_ = 0;
}

int64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank < 1) rank = 1;
  if (rank >= count_) return max_;
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) return std::min(BucketUpper(static_cast<int>(b)), max_);
  }
  return max_;
}

std::vector<std::pair<int64_t, double>> Histogram::Cdf() const {
  std::vector<std::pair<int64_t, double>> out;
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (!buckets_[b]) continue;
    seen += buckets_[b];
    out.emplace_back(std::min(BucketUpper(static_cast<int>(b)), max_),
                     static_cast<double>(seen) / static_cast<double>(count_));
  }
  return out;
}

}  // namespace dw

// Samples: the per-operation records a load command streams with
// `--samples FILE` (intended start, latency, outcome), and the summaries
// compare derives from them: counts and p99 inside a time window, 250 ms
// timelines across a fault, and CDF points for plots.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "common/status.h"
#include "compare/results.h"

namespace dw::compare {

struct SampleRow {
  int64_t start_us = 0;  // intended start, unix µs
  int64_t latency_us = 0;
  char outcome = 'c';  // c committed, a aborted, f failed (outcome unknown)
  int64_t key = 0;     // the order id, 0 when unknown
};

// Reads every complete line (a torn last line of a killed process is skipped).
Status ReadSamples(const std::string& path, std::vector<SampleRow>* out);

struct WindowStats {
  uint64_t attempted = 0, succeeded = 0, failed = 0;  // failed: aborted or failed
  Histogram latency;                                  // µs, every outcome
  Histogram ok_latency;                               // µs, the operations that succeeded
  Histogram fail_latency;                             // µs, the others: how fast a failure fails
  void Add(const SampleRow& r);
  // {attempted, offered (= attempted: in open loop every arrival is one; a
  //  count, written as an integer), succeeded, failed, availability
  //  (succeeded / offered, null when none)}
  results::Ops ToOps() const;
};
// Operations whose intended start lies in [from_us, to_us).
WindowStats Window(const std::vector<SampleRow>& rows, int64_t from_us, int64_t to_us);

// [{t_s, offered, ok, failed, p99_ms}] per `bucket_us` of intended start in
// [from_us, to_us), t_s relative to `origin_us`; p99_ms over the operations
// that succeeded (null when none did).
std::vector<results::TimelineBucket> Timeline(const std::vector<SampleRow>& rows, int64_t origin_us,
                                              int64_t from_us, int64_t to_us, int64_t bucket_us);

// [{t_s, lost}]: committed operations whose key is in `lost_keys`, counted
// by intended start, cumulative at the end of each bucket (t_s relative to
// `origin_us`); [] when nothing was lost.
std::vector<results::LostPoint> LostTimeline(const std::vector<SampleRow>& rows,
                                             const std::vector<int64_t>& lost_keys,
                                             int64_t origin_us, int64_t from_us, int64_t to_us,
                                             int64_t bucket_us);

// How fast the operations committed but not yet readable at the broker grew
// over [from_us, to_us), per second: the mean backlog of the last quarter
// minus that of the second quarter (the first is start-up), over the time
// between them. Commit moments are intended start + latency; `read_at_us`
// are the moments the consumer read each message. nullopt for a window
// too short to tell.
std::optional<double> BacklogGrowthPerS(const std::vector<SampleRow>& rows,
                                        std::vector<int64_t> read_at_us, int64_t from_us,
                                        int64_t to_us);

// [[value_ms, fraction], ...] with at most `points` entries.
std::vector<results::CdfPoint> CdfMs(const Histogram& h, size_t points = 60);

// {p50, p95, p99, p999, max, mean} in ms, plus count when `with_count`; null when empty.
results::Field<results::Percentiles> PercentilesMs(const Histogram& h, bool with_count);

}  // namespace dw::compare

// The keys of a failure cell (docs/compare-results.md, "Failure scenarios
// and cells").
#include "compare/results.h"

namespace dw::compare::results {
namespace {

constexpr auto kFaultWindow = [](auto& io, auto& c) {
  io("start_s", c.start_s);
  io("end_s", c.end_s);
};

constexpr auto kOps = [](auto& io, auto& c) {
  io("attempted", c.attempted);
  io("succeeded", c.succeeded);
  io("failed", c.failed);
  io("offered", c.offered);
  io("availability", c.availability);
};

constexpr auto kTimelineBucket = [](auto& io, auto& c) {
  io("t_s", c.t_s);
  io("ok", c.ok);
  io("failed", c.failed);
  io("p99_ms", c.p99_ms);
  io("offered", c.offered);
};

constexpr auto kLostPoint = [](auto& io, auto& c) {
  io("t_s", c.t_s);
  io("lost", c.lost);
};

constexpr auto kBacklogPoint = [](auto& io, auto& c) {
  io("t_s", c.t_s);
  io("rows", c.rows);
};

constexpr auto kHistory = [](auto& io, auto& c) {
  io("ok", c.ok);
  io("acknowledged", c.acknowledged);
  io("ack_missing_row", c.ack_missing_row);
  io("ack_missing_message", c.ack_missing_message);
  io("ack_duplicated", c.ack_duplicated);
  io("aborted", c.aborted);
  io("aborted_with_row", c.aborted_with_row);
  io("aborted_with_message", c.aborted_with_message);
  io("unknown", c.unknown);
  io("unknown_committed", c.unknown_committed);
  io("unknown_split", c.unknown_split);
  io("examples", c.examples);
  io("error", c.error);
};

constexpr auto kVacuum = [](auto& io, auto& c) {
  io("dead_tuples_kept_while_held", c.dead_tuples_kept_while_held);
  io("dead_tuples_left_after_release", c.dead_tuples_left_after_release);
};

constexpr auto kFailureCell = [](auto& io, auto& c) {
  io("scenario", c.scenario);
  io("approach", c.approach);
  io("status", c.status);
  io("reason", c.reason);
  io("guaranteed", c.guaranteed);
  io("verdict", c.verdict);
  io("notes", c.notes);
  io("fault", c.fault);
  io("offered_rate_per_s", c.offered_rate_per_s);
  io("ops", c.ops);
  io("ops_total", c.ops_total);
  io("lost", c.lost);
  io("orphans", c.orphans);
  io("duplicates", c.duplicates);
  io("duplicates_before_dedupe", c.duplicates_before_dedupe);
  io("in_doubt_max", c.in_doubt_max);
  io("in_doubt_max_age_s", c.in_doubt_max_age_s);
  io("in_doubt_at_end", c.in_doubt_at_end);
  io("probe_blocked_ms", c.probe_blocked_ms);
  io("converge_s", c.converge_s);
  io("p99_before_ms", c.p99_before_ms);
  io("p99_during_ms", c.p99_during_ms);
  io("p99_ok_during_ms", c.p99_ok_during_ms);
  io("fail_ms", c.fail_ms);
  io("timeline", c.timeline);
  io("lost_timeline", c.lost_timeline);
  io("backlog", c.backlog);
  io("pending_age_ms", c.pending_age_ms);
  io("projection_lag_ms", c.projection_lag_ms);
  io("dirty_reads", c.dirty_reads);
  io("verify", c.verify);
  io("history", c.history);
  io("vacuum", c.vacuum);
  io("command", c.command);
};

}  // namespace

bool Read(const json& j, FaultWindow* out) { return ReadStruct(j, out, kFaultWindow); }
json Write(const FaultWindow& v) { return WriteStruct(v, kFaultWindow); }

bool Read(const json& j, Ops* out) { return ReadStruct(j, out, kOps); }
json Write(const Ops& v) { return WriteStruct(v, kOps); }

bool Read(const json& j, TimelineBucket* out) { return ReadStruct(j, out, kTimelineBucket); }
json Write(const TimelineBucket& v) { return WriteStruct(v, kTimelineBucket); }

bool Read(const json& j, LostPoint* out) { return ReadStruct(j, out, kLostPoint); }
json Write(const LostPoint& v) { return WriteStruct(v, kLostPoint); }

bool Read(const json& j, BacklogPoint* out) { return ReadStruct(j, out, kBacklogPoint); }
json Write(const BacklogPoint& v) { return WriteStruct(v, kBacklogPoint); }

bool Read(const json& j, History* out) { return ReadStruct(j, out, kHistory); }
json Write(const History& v) { return WriteStruct(v, kHistory); }

bool Read(const json& j, Vacuum* out) { return ReadStruct(j, out, kVacuum); }
json Write(const Vacuum& v) { return WriteStruct(v, kVacuum); }

bool Read(const json& j, FailureCell* out) { return ReadStruct(j, out, kFailureCell); }
json Write(const FailureCell& v) { return WriteStruct(v, kFailureCell); }

}  // namespace dw::compare::results

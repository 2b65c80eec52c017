// The order-per-key check of verify: for each order, the events readable at
// the broker must carry versions 1..V (V = the version its row reached) in
// increasing offset order. Pure logic, fed by verify (workload/verify.cc)
// with every message of the topic in offset order, so tests can drive it
// without a server.
//
// Reordering is judged on each event's FIRST delivery: an at-least-once
// relay that re-sends a batch after a crash delivers 1,2,3,1,2,3, which a
// consumer deduplicating by message id reads as 1,2,3; the second copies are
// duplicates, reported as such, not inversions.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace dw::workload {

// The first inversion of one order: event `later_version` was read at
// `later_offset`, before event `version` (lower) at `offset`.
struct Inversion {
  int64_t order = 0;
  int later_version = 0;
  uint64_t later_offset = 0;
  int version = 0;
  uint64_t offset = 0;

  nlohmann::json ToJson() const;
  std::string ToText() const;  // "42 (v3 at offset 17 before v2 at offset 20)"
};

struct OrderCheckResult {
  uint64_t keys = 0;                 // orders with a row and at least one event read
  uint64_t multi_event = 0;          // of those, orders whose row is past version 1
  std::vector<Inversion> reordered;  // by order id
  std::vector<int64_t> duplicates;   // some event read more than once (rows or not)
  std::vector<int64_t> gaps;         // some version in 1..row version never read
  std::vector<int64_t> ahead;        // an event past the row's version was read
};

class OrderCheck {
 public:
  // Call in offset order.
  void Add(int64_t order, int version, uint64_t offset);
  // `row_versions`: the version each order's row reached (1 when the table
  // has no version column). Orders read without a row are verify's orphans:
  // only their duplicates are reported here.
  OrderCheckResult Finish(const std::unordered_map<int64_t, int>& row_versions) const;

 private:
  std::unordered_map<int64_t, std::vector<std::pair<int, uint64_t>>> read_;  // (version, offset)
};

}  // namespace dw::workload

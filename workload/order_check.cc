#include "workload/order_check.h"

#include <algorithm>
#include <map>
#include <string>

namespace dw::workload {

nlohmann::json Inversion::ToJson() const {
  return {{"order", order},
          {"later_version", later_version},
          {"later_offset", later_offset},
          {"version", version},
          {"offset", offset}};
}

std::string Inversion::ToText() const {
  return std::to_string(order) + " (v" + std::to_string(later_version) + " at offset " +
         std::to_string(later_offset) + " before v" + std::to_string(version) + " at offset " +
         std::to_string(offset) + ")";
}

void OrderCheck::Add(int64_t order, int version, uint64_t offset) {
  read_[order].emplace_back(version, offset);
}

OrderCheckResult OrderCheck::Finish(const std::unordered_map<int64_t, int>& row_versions) const {
  OrderCheckResult r;
  for (const auto& [order, events] : read_) {
    std::map<int, uint64_t> first;  // version -> offset of its first delivery
    bool duplicate = false;
    bool inverted = false;
    Inversion inversion;
    int max_version = 0;
    uint64_t max_offset = 0;
    for (const auto& [version, offset] : events) {
      if (!first.emplace(version, offset).second) {
        duplicate = true;
        continue;
      }
      if (version > max_version) {
        max_version = version;
        max_offset = offset;
      } else if (!inverted) {
        inverted = true;
        inversion = {order, max_version, max_offset, version, offset};
      }
    }
    if (duplicate) r.duplicates.push_back(order);
    // Without a row the events are verify's orphans: only their copies count here.
    auto row = row_versions.find(order);
    if (row == row_versions.end()) continue;
    if (inverted) r.reordered.push_back(inversion);
    const int expected = row->second;
    ++r.keys;
    if (expected > 1) ++r.multi_event;
    bool gap = false;
    for (int v = 1; v <= expected && !gap; ++v) gap = first.count(v) == 0;
    if (gap) r.gaps.push_back(order);
    if (!first.empty() && first.rbegin()->first > expected) r.ahead.push_back(order);
  }
  std::sort(r.reordered.begin(), r.reordered.end(),
            [](const Inversion& a, const Inversion& b) { return a.order < b.order; });
  std::sort(r.duplicates.begin(), r.duplicates.end());
  std::sort(r.gaps.begin(), r.gaps.end());
  std::sort(r.ahead.begin(), r.ahead.end());
  return r;
}

}  // namespace dw::workload

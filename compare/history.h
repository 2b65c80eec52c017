// History checker: judges every operation by what its caller was told, the
// way a Jepsen checker judges a history, on top of verify's global view:
//   acknowledged (c)  its row exists AND exactly one message carries its key;
//   aborted (a)       neither its row nor any message exists (the system
//                     said no: nothing of it may leak);
//   unknown (f)       either both or neither (atomic, whichever way it went).
// Keys come from the load command's --samples file, rows from `orders`,
// messages from a full read of the topic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "compare/results.h"
#include "compare/samples.h"

namespace dw::compare {

struct HistoryReport {
  uint64_t acknowledged = 0, ack_missing_row = 0, ack_missing_message = 0, ack_duplicated = 0;
  uint64_t aborted = 0, aborted_with_row = 0, aborted_with_message = 0;
  uint64_t unknown = 0, unknown_committed = 0, unknown_split = 0;
  std::vector<int64_t> examples;  // up to 10 keys that broke a rule

  bool ok() const {
    return ack_missing_row + ack_missing_message + ack_duplicated + aborted_with_row +
               aborted_with_message + unknown_split ==
           0;
  }
  results::History ToResults() const;
};

// `broker_url` empty: the approach sends no message (the floor); only rows
// are judged.
//
// `saga`: an order's row always exists from T1 on, and its business outcome
// is its status, so the rules read "row" as "saga_orders says 'placed'" and
// "message" as "an OrderPlaced not retracted by an OrderCancelled": an
// acknowledged (placed) order is placed with exactly one standing
// OrderPlaced; an aborted (cancelled) one is not placed and has none
// standing. The order of the events is saga verify's rule, not this one's.
Status CheckHistory(const std::vector<SampleRow>& rows, const std::string& dsn,
                    const std::string& broker_url, int64_t min_id, int64_t max_id, bool saga,
                    HistoryReport* out);

}  // namespace dw::compare

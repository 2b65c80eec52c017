// Named crash points of `saga run --crash-at POINT`: the process SIGKILLs
// itself (no destructors, no flush, connections dropped by the kernel) the
// first time a saga reaches POINT, leaving real half-done state for
// `saga recover`:
//   after-t1              T1 committed (order 'pending', log 'pending'),
//                         nothing published: recovery publishes, confirms
//   after-publish         OrderPlaced acknowledged, T3 not run: recovery
//                         re-publishes (the broker deduplicates), confirms
//   during-compensation   the compensation committed (order 'cancelled', log
//                         'compensating'), OrderCancelled not sent: recovery
//                         sends it
// With --crash-after N the point is armed once N sagas have finished.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dw::saga {

enum class CrashAt { kAfterT1, kAfterPublish, kDuringCompensation };

const char* CrashAtName(CrashAt c);
std::optional<CrashAt> ParseCrashAt(std::string_view name);
std::string CrashAtNames();  // "after-t1|after-publish|during-compensation"

// Writes one line to stderr (write(2)) and raises SIGKILL.
[[noreturn]] void CrashNow(CrashAt c, int64_t saga_id);

}  // namespace dw::saga

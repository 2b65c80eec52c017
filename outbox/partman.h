// The optional pg_partman partitioner of outbox_table (`--partitioner
// partman`), behind the same MaintainPartitions pass as the built-in one
// (partitions.h): partitions.cc takes the maintenance lock, settles
// interrupted detaches, and runs the drop step; this file replaces only the
// CREATE step, and registers the table on first use.
//
// What pg_partman does and what stays ours:
//   - creating partitions ahead is pg_partman's: partman.run_maintenance()
//     for outbox_table on every pass. The relay's maintenance loop is the
//     scheduler; no background worker (automatic_maintenance = 'off': a
//     worker would run in the server's TimeZone, and partman names partitions
//     with to_char() in the session's TimeZone; our sessions use UTC);
//   - dropping stays OURS: partman's retention drops by age alone and would
//     drop rows no relay has sent, so retention is kept unset (cleared if
//     someone sets it) and partitions.cc's "drop only when every row is sent"
//     step runs over all partitions, whatever their names.
//
// Registration (once, idempotent; in ONE transaction, so a failure leaves
// the table as it was):
//   1. partitions the built-in maintenance made (outbox_table_pYYYYMMDD_HHMMSS)
//      are renamed to partman's names for their lower bound
//      (outbox_table_pYYYY_MM_DD[_HH24MISS]): partman orders partitions by
//      to_timestamp() of the name suffix (show_partitions), which fails on
//      the built-in names, and would then find no newest partition. A name
//      clash (built-in partitions narrower than a day under a daily partman
//      set) refuses the handover with a clear error instead;
//   2. create_parent(native, interval = the width, premake = max(1, ahead),
//      p_start_partition = the end of the last existing partition, or the
//      width slot of now - grace; p_date_trunc_interval 'second', so the
//      first partition starts exactly there): no range is created twice, no
//      overlap, no gap, and the widths grid stays the built-in one (multiples
//      of the width since the epoch), so a handover back is seamless too;
//   3. the DEFAULT partition create_parent adds is dropped: with it, DETACH
//      cannot be CONCURRENTLY (every drop would take ACCESS EXCLUSIVE on the
//      parent and stall writers), every ATTACH scans it, and a row that lands
//      in it blocks creating its range for good (run_maintenance errors);
//   4. infinite_time_partitions = true: otherwise run_maintenance creates
//      ahead only relative to the newest ROW, and an outbox whose relay
//      deletes rows (skip-locked) is often empty: no more partitions, inserts
//      fail.
// create_parent takes ACCESS EXCLUSIVE on outbox_table (under the pass's
// lock_timeout): writers wait for at most that long, once.
//
// Once registered, a table stays partman's: every pass follows the
// registration whatever its option (the writers' own create-ahead passes,
// relays started without --partitioner), so the two never both create. To
// hand it back: DELETE FROM partman.part_config WHERE parent_table =
// 'public.outbox_table'; the built-in maintenance then works on the
// partitions as they are (it skips covered ranges whatever their names).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/status.h"
#include "outbox/partitions.h"

namespace dw::outbox {

// What pg_partman knows of outbox_table.
struct PartmanState {
  bool installed = false;  // CREATE EXTENSION was run in this database
  std::string schema;      // the extension's schema (partman by default)
  std::string parent;  // outbox_table as part_config names it ("public.outbox_table"); "": no table
  bool registered = false;  // part_config has a row for `parent`
};

// Reads the state on `c` (throws on SQL errors).
PartmanState ReadPartmanState(pqxx::connection& c);

// CREATE SCHEMA IF NOT EXISTS partman; CREATE EXTENSION IF NOT EXISTS
// pg_partman SCHEMA partman - when not yet installed. FailedPrecondition with
// one line naming what to do when the server lacks the package, or when this
// role may not create the extension.
Status EnsurePartmanExtension(pqxx::connection& c, PartmanState* st);
// The same on a connection of its own (the relay command's early check).
Status EnsurePartmanExtension(const std::string& dsn);

// The CREATE step of a pass under pg_partman: registers the table when it is
// not yet (see above), renames partitions not named partman's way, makes sure
// retention is unset and infinite_time_partitions on, creates the partition
// holding now - grace when the newest one is older than that (after a long
// stop: run_maintenance would otherwise create every partition of the gap),
// then calls run_maintenance. Fills report->created (partition list
// before/after), ->renamed, ->registered; failures go to report->errors and
// leave *ok_out false (the caller then creates the built-in way for this pass
// if the table is not registered, so no insert fails meanwhile). `list`
// returns the attached partitions, ordered by lower bound.
void PartmanCreateAhead(pqxx::connection& c, const PartitionOptions& opts, int64_t now_us,
                        const std::function<std::vector<PartitionInfo>()>& list, PartmanState* st,
                        MaintenanceReport* report, bool* ok_out);

}  // namespace dw::outbox

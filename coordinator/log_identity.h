// Which decision log a coordinator id uses, remembered in the coordinator's
// database (dw_coordinators.decision_log of the first Postgres participant).
//
// Recovery with the wrong log is not a harmless mistake: a log without the
// COMMIT records presumes abort and rolls back transactions whose decision
// was commit, so some participants end up committed and others aborted.
// So the first `2pc run` of an id records its log, and every later run or
// recover of that id must name the same one (the same --log text), or it is
// refused with the name of the right one.
#pragma once

#include <string>

#include "common/status.h"

namespace dw::coord {

// Records `log` for `coordinator_id` if none is recorded yet; fails with
// FailedPrecondition when another log is recorded. Creates the tables if absent.
Status CheckLogIdentity(const std::string& dsn, const std::string& coordinator_id,
                        const std::string& log);

}  // namespace dw::coord

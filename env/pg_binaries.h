// Finding the PostgreSQL server programs (initdb, pg_ctl, postgres). Debian
// keeps them out of PATH, under /usr/lib/postgresql/<major>/bin.
#pragma once

#include <string>

#include "common/status.h"

namespace dw::env {

// `pg_config --bindir` when that folder has initdb, else the newest
// /usr/lib/postgresql/*/bin with initdb and pg_ctl. FailedPrecondition naming
// the package to install when there is none.
Status FindPostgresBinDir(std::string* bin_dir);

// True when `dir` holds initdb, pg_ctl and postgres (a remembered bin dir is
// re-checked with this: the package may have been removed or upgraded).
bool HasServerTools(const std::string& dir);

}  // namespace dw::env

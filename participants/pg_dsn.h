// DsnWithDatabase: the same server and credentials, another database. Tools
// that create a scratch database per experiment (`compare`, benchmarks) need
// it for both DSN forms libpq accepts (key=value and postgresql:// URIs).
#pragma once

#include <string>

#include "common/status.h"

namespace dw {

// *out = `dsn` with its dbname replaced by `dbname` (key=value form).
// InvalidArgument (with the DSN redacted) when libpq cannot parse `dsn`.
Status DsnWithDatabase(const std::string& dsn, const std::string& dbname, std::string* out);

}  // namespace dw

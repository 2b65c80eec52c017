// Helpers for libpq connection strings (DSNs) that we print: error messages,
// logs and `env` output must never echo a password.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dw {

// `dsn` without its password, in either libpq form:
//   key=value:  "host=h password='s e' user=u" -> "host=h user=u"
//   URI:        "postgresql://u:secret@h/db?password=x&sslmode=off" ->
//               "postgresql://u@h/db?sslmode=off"
// A key=value string that does not parse (an unterminated quote) comes back
// as "<unparseable dsn>" rather than risk echoing part of a secret.
std::string RedactDsn(std::string_view dsn);

// The password `dsn` carries (percent-decoded from a URI, unquoted from
// key=value), if any. With RedactDsn it lets a parent hand a child process
// the DSN on its command line (visible to every local user in ps) and the
// password in PGPASSWORD (readable only by the same user), as libpq allows.
std::optional<std::string> DsnPassword(std::string_view dsn);

}  // namespace dw

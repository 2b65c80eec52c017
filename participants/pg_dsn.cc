#include "participants/pg_dsn.h"

#include <libpq-fe.h>

#include "common/dsn.h"

namespace dw {

Status DsnWithDatabase(const std::string& dsn, const std::string& dbname, std::string* out) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (!opts) {
    std::string msg = err ? err : "out of memory";
    PQfreemem(err);
    return Status::InvalidArgument("cannot parse the DSN " + RedactDsn(dsn) + ": " + msg);
  }
  // key='value' with ' and \ escaped, as libpq's key=value syntax wants.
  auto quoted = [](const std::string& v) {
    std::string q = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    return q + "'";
  };
  std::string r;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    std::string key = o->keyword;
    if (key == "dbname" || !o->val) continue;
    r += key + "=" + quoted(o->val) + " ";
  }
  PQconninfoFree(opts);
  *out = r + "dbname=" + quoted(dbname);
  return Status::OK();
}

}  // namespace dw

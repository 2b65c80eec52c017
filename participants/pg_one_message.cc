#include "participants/pg_one_message.h"

#include "common/names.h"

namespace dw::pg_work {

bool OneMessage(PgPool::Lease& lease, const Work& work, std::vector<std::string>* parts,
                bool rows_per_part) {
  for (const SqlStatement& st : work.statements) {
    if (st.expect_rows && !rows_per_part) return false;
  }
  parts->assign(1, "BEGIN");
  for (const SqlStatement& st : work.statements) {
    std::string name = lease.Prepared(st.sql);
    if (name.empty()) return false;
    lease.conn().prepare_now(name);  // a no-op once the server has it
    std::string text = "EXECUTE " + lease.conn().quote_name(name);
    if (!st.params.empty()) {
      text += '(';
      for (size_t i = 0; i < st.params.size(); ++i) {
        if (i > 0) text += ',';
        text += st.params[i] ? lease.conn().quote(*st.params[i]) : std::string("NULL");
      }
      text += ')';
    }
    parts->push_back(std::move(text));
  }
  return true;
}

std::string Joined(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& p : parts) text += p + ';';
  return text;
}

Status RowsMismatch(const SqlStatement& st, uint64_t rows) {
  std::string args;
  for (const auto& p : st.params) args += (args.empty() ? "" : ", ") + p.value_or("NULL");
  return Status::Aborted("\"" + st.sql.substr(0, 80) + "\" (" + args + ") changed " +
                         std::to_string(rows) + " rows, not " + std::to_string(*st.expect_rows));
}

Status CheckNoNul(const Work& work) {
  for (const SqlStatement& st : work.statements) {
    for (size_t i = 0; i < st.params.size(); ++i) {
      if (st.params[i] && st.params[i]->find('\0') != std::string::npos) {
        return Status::InvalidArgument("parameter $" + std::to_string(i + 1) + " of \"" +
                                       st.sql.substr(0, 60) +
                                       "\" contains a NUL byte, which Postgres text cannot hold");
      }
    }
  }
  return Status::OK();
}

Status CheckGid(const std::string& gid) {
  if (!ValidName(gid)) {
    return Status::InvalidArgument("invalid gid '" + gid + "': want [A-Za-z0-9._:-]{1,200}");
  }
  return Status::OK();
}

}  // namespace dw::pg_work

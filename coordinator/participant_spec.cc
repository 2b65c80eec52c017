#include "coordinator/participant_spec.h"

#include <cctype>

#include "participants/broker_participant.h"
#include "participants/pg_pool.h"
#include "participants/postgres_participant.h"

namespace dw::coord {
namespace {

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Length of the item keyword at s[i] (after spaces) if one starts there.
bool KeywordAt(const std::string& s, size_t i) {
  while (i < s.size() && s[i] == ' ') ++i;
  for (const char* kw : {"postgres", "pg", "broker"}) {
    std::string k = kw;
    if (s.compare(i, k.size(), k) == 0) {
      size_t j = i + k.size();
      if (j == s.size() || s[j] == ':' || s[j] == ',' || s[j] == ' ') return true;
    }
  }
  return false;
}

}  // namespace

Status ParseParticipants(const std::string& text, std::vector<ParticipantSpec>* out) {
  out->clear();
  std::vector<std::string> items;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && KeywordAt(text, i + 1))) {
      items.push_back(Trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  int brokers = 0;
  for (const auto& it : items) {
    if (it.empty()) return Status::InvalidArgument("--participants: empty item in '" + text + "'");
    size_t colon = it.find(':');
    std::string kind = Trim(it.substr(0, colon));
    std::string target = colon == std::string::npos ? "" : Trim(it.substr(colon + 1));
    ParticipantSpec p;
    if (kind == "pg" || kind == "postgres") {
      p.kind = ParticipantSpec::Kind::kPostgres;
    } else if (kind == "broker") {
      p.kind = ParticipantSpec::Kind::kBroker;
      ++brokers;
    } else {
      return Status::InvalidArgument("--participants: unknown item '" + it +
                                     "' (want pg, pg:DSN, broker or broker:URL)");
    }
    if (colon != std::string::npos && target.empty()) {
      return Status::InvalidArgument("--participants: empty target in '" + it + "'");
    }
    p.target = target;
    out->push_back(std::move(p));
  }
  if (brokers != 1) {
    return Status::InvalidArgument("--participants: exactly one broker is needed (got " +
                                   std::to_string(brokers) + ")");
  }
  if (out->size() < 2) {
    return Status::InvalidArgument("--participants: at least one Postgres database is needed");
  }
  return Status::OK();
}

Status BuildMembers(const std::vector<ParticipantSpec>& specs, const BuildOptions& opts,
                    Built* out) {
  *out = Built{};
  size_t pg_count = 0;
  for (const auto& s : specs) pg_count += s.kind == ParticipantSpec::Kind::kPostgres;
  for (const auto& s : specs) {
    Member m;
    if (s.kind == ParticipantSpec::Kind::kPostgres) {
      std::string dsn = s.target.empty() ? opts.default_dsn : s.target;
      if (dsn.empty()) return Status::InvalidArgument("no Postgres DSN for a 'pg' participant");
      size_t k = out->dsns.size();
      PgPool::Options po;
      po.dsn = dsn;
      po.max_connections = opts.pg_connections;
      po.statement_timeout = opts.timeout;
      po.application_name = opts.application_name;
      PostgresParticipant::Options pp;
      pp.name = pg_count == 1 ? "postgres" : "postgres:shard" + std::to_string(k);
      // Bounded calls run on the coordinator's own thread (phase.cc).
      pp.call_deadline = opts.timeout;
      std::unique_ptr<PostgresParticipant> p;
      Status st = PostgresParticipant::Create(po, pp, &p);
      if (!st.ok()) return st;
      m.one_phase = p.get();
      m.participant = std::shared_ptr<Participant>(std::move(p));
      m.branch = static_cast<int>(k);
      out->topology.shards.push_back(out->members.size());
      out->dsns.push_back(dsn);
    } else {
      std::string url = s.target.empty() ? opts.default_broker : s.target;
      if (url.empty()) return Status::InvalidArgument("no URL for the 'broker' participant");
      BrokerClient::Options bo;
      bo.url = url;
      bo.timeout = opts.timeout;
      std::unique_ptr<BrokerClient> c;
      Status st = BrokerClient::Create(bo, &c);
      if (!st.ok()) return st;
      m.participant =
          std::make_shared<BrokerParticipant>(std::shared_ptr<BrokerClient>(std::move(c)));
      m.branch = 0;
      out->topology.broker = out->members.size();
      out->broker_url = url;
    }
    out->members.push_back(std::move(m));
  }
  out->topology.members = out->members.size();
  return Status::OK();
}

}  // namespace dw::coord

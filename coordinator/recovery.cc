#include "coordinator/recovery.h"

#include <map>

#include "coordinator/gid.h"

namespace dw::coord {

void RecoveryReport::Merge(const RecoveryReport& o) {
  listed += o.listed;
  committed += o.committed;
  aborted += o.aborted;
  skipped_in_flight += o.skipped_in_flight;
  ended += o.ended;
  actions.insert(actions.end(), o.actions.begin(), o.actions.end());
  errors.insert(errors.end(), o.errors.begin(), o.errors.end());
}

nlohmann::json RecoveryReport::ToJson() const {
  nlohmann::json acts = nlohmann::json::array();
  for (const auto& a : actions) {
    acts.push_back({{"gid", a.gid},
                    {"participant", a.participant},
                    {"action", a.action},
                    {"result", a.result}});
  }
  return {{"listed", listed},   {"committed", committed},
          {"aborted", aborted}, {"skipped_in_flight", skipped_in_flight},
          {"ended", ended},     {"actions", acts},
          {"errors", errors}};
}

std::string RecoveryReport::ToText() const {
  std::string out;
  for (const auto& a : actions) {
    out += a.action + " " + a.gid + " at " + a.participant + ": " + a.result + "\n";
  }
  for (const auto& e : errors) out += "error: " + e + "\n";
  out += "recovery: " + std::to_string(listed) + " prepared found, " + std::to_string(committed) +
         " committed, " + std::to_string(aborted) + " aborted, " +
         std::to_string(skipped_in_flight) + " in flight left alone, " + std::to_string(ended) +
         " decisions closed\n";
  return out;
}

Status RecoverOnce(const RecoveryContext& ctx, const InFlight& in_flight, RecoveryReport* report) {
  *report = RecoveryReport{};
  const auto& members = *ctx.members;
  const std::string prefix = GidPrefix(ctx.coordinator_id);

  // 2. List (the snapshot was taken by the caller, before this).
  // Each listing writes into storage of its own: a call that misses the
  // deadline may still finish later (call_pool.h).
  std::vector<std::function<Status()>> calls;
  std::vector<std::shared_ptr<std::vector<InDoubtTxn>>> own(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    own[i] = std::make_shared<std::vector<InDoubtTxn>>();
    calls.push_back([p = members[i].participant, prefix, out = own[i]] {
      return p->ListInDoubt(prefix, out.get());
    });
  }
  std::vector<Status> listings =
      ctx.pool->Fanout(calls, std::chrono::steady_clock::now() + ctx.call_timeout);
  bool complete = true;
  // global gid -> (member index, branch name)
  std::map<std::string, std::vector<std::pair<size_t, std::string>>> prepared;
  for (size_t i = 0; i < members.size(); ++i) {
    if (!listings[i].ok()) {
      complete = false;
      report->errors.push_back("listing prepared transactions at " +
                               members[i].participant->name() + ": " + listings[i].ToString());
      continue;
    }
    for (const InDoubtTxn& t : *own[i]) {
      ParsedGid pg;
      if (!ParseGid(t.gid, &pg) || pg.coordinator_id != ctx.coordinator_id) continue;
      ++report->listed;
      if (in_flight.Contains(pg.seq)) {
        ++report->skipped_in_flight;
        continue;
      }
      prepared[pg.gid].emplace_back(i, t.gid);
    }
  }

  // 3. Resolve each from the log, then finish its branches.
  for (const auto& [gid, branches] : prepared) {
    bool committed = false;
    Status s = ctx.log->Resolve(gid, &committed);
    if (s.IsNotFound()) continue;  // ended meanwhile: the listing was stale
    if (!s.ok()) {
      report->errors.push_back("resolving " + gid + ": " + s.ToString());
      continue;
    }
    // Abort goes to EVERY member, not only those that listed the gid: a
    // prepare still on its way (sent just before the coordinator died, or
    // by a call that missed its deadline) is then refused by the broker,
    // which remembers aborted gids (Postgres does not; see session_wait.h).
    // Commit goes also to every member that could not be listed: it may
    // hold the gid prepared. Without that, a pass whose Postgres listing
    // failed (the server restarting) but whose Resolve succeeded a moment
    // later would commit the broker alone and END the decision; the next
    // pass would then find the Postgres branch with no record and presume
    // abort: a message without its row.
    std::vector<std::pair<size_t, std::string>> targets = branches;
    for (size_t i = 0; i < members.size(); ++i) {
      bool listed = false;
      for (const auto& b : branches) listed |= b.first == i;
      if (!listed && (!committed || !listings[i].ok())) {
        targets.emplace_back(i, BranchGid(gid, members[i].branch));
      }
    }
    std::vector<std::function<Status()>> fin;
    for (const auto& [i, branch] : targets) {
      fin.push_back([p = members[i].participant, b = branch, committed] {
        Status r = committed ? p->Commit(b) : p->Abort(b);
        // Commit of a gid it no longer knows: finished by someone already.
        return r.IsNotFound() ? Status::OK() : r;
      });
    }
    std::vector<Status> res =
        ctx.pool->Fanout(fin, std::chrono::steady_clock::now() + ctx.call_timeout);
    bool all = true;
    for (size_t k = branches.size(); k < targets.size(); ++k) {
      if (!res[k].ok()) {
        all = false;
        report->errors.push_back(std::string(committed ? "commit " : "abort ") + targets[k].second +
                                 " at " + members[targets[k].first].participant->name() + ": " +
                                 res[k].ToString());
      }
    }
    for (size_t k = 0; k < branches.size(); ++k) {
      const auto& [i, branch] = branches[k];
      RecoveryAction a{branch, members[i].participant->name(), committed ? "commit" : "abort",
                       res[k].ok() ? "ok" : res[k].ToString()};
      report->actions.push_back(a);
      if (res[k].ok()) {
        ++(committed ? report->committed : report->aborted);
      } else {
        all = false;
        report->errors.push_back(a.action + " " + branch + " at " + a.participant + ": " +
                                 res[k].ToString());
      }
    }
    if (all) ctx.log->LogEnd(gid);
  }

  // 4. Open decisions nobody holds prepared any more.
  if (complete) {
    std::vector<std::string> open;
    Status s = ctx.log->ListOpen(&open);
    if (!s.ok()) {
      report->errors.push_back("listing open decisions: " + s.ToString());
    } else {
      for (const auto& g : open) {
        ParsedGid pg;
        if (!ParseGid(g, &pg) || in_flight.Contains(pg.seq) || prepared.count(g)) continue;
        ctx.log->LogEnd(g);
        ++report->ended;
      }
    }
  }
  Status f = ctx.log->Flush();
  if (!f.ok()) report->errors.push_back("writing END records: " + f.ToString());

  if (report->errors.empty()) return Status::OK();
  return Status::IOError("recovery incomplete: " + report->errors.front() +
                         (report->errors.size() > 1
                              ? " (+" + std::to_string(report->errors.size() - 1) + " more)"
                              : ""));
}

}  // namespace dw::coord

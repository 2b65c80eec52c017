#include "participants/broker_participant.h"

#include <algorithm>
#include <utility>

#include "broker/api.h"

namespace dw {

BrokerParticipant::BrokerParticipant(std::shared_ptr<BrokerClient> client, std::string name)
    : client_(std::move(client)), name_(std::move(name)) {}

Status BrokerParticipant::Prepare(const std::string& gid, const Work& work) {
  return client_->Prepare(gid, work.messages);
}

Status BrokerParticipant::Commit(const std::string& gid) { return client_->Commit(gid); }

Status BrokerParticipant::Abort(const std::string& gid) { return client_->Abort(gid); }

std::unique_ptr<StartedCall> BrokerParticipant::StartPrepare(const std::string& gid,
                                                             const Work& work) {
  return client_->StartPrepare(gid, work.messages);
}

std::unique_ptr<StartedCall> BrokerParticipant::StartCommit(const std::string& gid) {
  return client_->StartCommit(gid);
}

std::unique_ptr<StartedCall> BrokerParticipant::StartAbort(const std::string& gid) {
  return client_->StartAbort(gid);
}

std::vector<std::unique_ptr<StartedCall>> BrokerParticipant::StartPrepareMany(
    const std::vector<std::string>& gids, const std::vector<const Work*>& works) {
  // Above what one request may carry: not supported, one by one.
  if (gids.size() > broker::api::kMaxManyTransactions) return {};
  std::vector<const std::vector<OutMessage>*> messages;
  messages.reserve(works.size());
  for (const Work* w : works) messages.push_back(&w->messages);
  return client_->StartPrepareMany(gids, messages);
}

std::vector<std::unique_ptr<StartedCall>> BrokerParticipant::StartCommitMany(
    const std::vector<std::string>& gids) {
  if (gids.size() > broker::api::kMaxManyTransactions) return {};
  return client_->StartCommitMany(gids);
}

Status BrokerParticipant::ListInDoubt(const std::string& gid_prefix, std::vector<InDoubtTxn>* out) {
  out->clear();
  std::vector<BrokerPrepared> all;
  Status s = client_->ListPrepared(&all);
  if (!s.ok()) return s;
  for (auto& p : all) {
    if (p.gid.compare(0, gid_prefix.size(), gid_prefix) != 0) continue;
    out->push_back(InDoubtTxn{std::move(p.gid), p.prepared_at});
  }
  std::sort(out->begin(), out->end(), [](const InDoubtTxn& a, const InDoubtTxn& b) {
    return a.prepared_at != b.prepared_at ? a.prepared_at < b.prepared_at : a.gid < b.gid;
  });
  return Status::OK();
}

}  // namespace dw

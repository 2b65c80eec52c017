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

namespace {

// About what one transaction adds to a several-transaction prepare body:
// escaped, a payload takes at most twice its size (a quote or a backslash
// doubles) unless it holds control characters, which take six bytes each.
size_t PrepareBytes(const std::string& gid, const Work& w) {
  size_t n = gid.size() + 32;
  for (const OutMessage& m : w.messages) {
    n += m.topic.size() + m.id.size() + m.key.size() + 2 * m.payload.size() + 64;
  }
  return n;
}

// Moves `part`'s calls to the end of `out`.
void Append(std::vector<std::unique_ptr<StartedCall>> part,
            std::vector<std::unique_ptr<StartedCall>>* out) {
  for (auto& c : part) out->push_back(std::move(c));
}

}  // namespace

std::vector<std::unique_ptr<StartedCall>> BrokerParticipant::StartPrepareMany(
    const std::vector<std::string>& gids, const std::vector<const Work*>& works) {
  if (gids.size() != works.size()) return {};
  std::vector<const std::vector<OutMessage>*> messages;
  messages.reserve(works.size());
  size_t total = 0;
  for (size_t i = 0; i < gids.size(); ++i) {
    total += PrepareBytes(gids[i], *works[i]);
    messages.push_back(&works[i]->messages);
  }
  // The usual case, a lockstep batch of small orders: one request.
  if (total <= kManyBodyBudget && gids.size() <= broker::api::kMaxManyTransactions) {
    return client_->StartPrepareMany(gids, messages);
  }
  messages.clear();
  std::vector<std::unique_ptr<StartedCall>> out;
  out.reserve(gids.size());
  std::vector<std::string> chunk;
  size_t bytes = 0;
  auto flush = [&] {
    if (chunk.empty()) return;
    Append(client_->StartPrepareMany(chunk, messages), &out);
    chunk.clear();
    messages.clear();
    bytes = 0;
  };
  for (size_t i = 0; i < gids.size(); ++i) {
    const size_t b = PrepareBytes(gids[i], *works[i]);
    if (!chunk.empty() &&
        (bytes + b > kManyBodyBudget || chunk.size() == broker::api::kMaxManyTransactions)) {
      flush();
    }
    chunk.push_back(gids[i]);
    messages.push_back(&works[i]->messages);
    bytes += b;
  }
  flush();
  return out;
}

std::vector<std::unique_ptr<StartedCall>> BrokerParticipant::StartCommitMany(
    const std::vector<std::string>& gids) {
  if (gids.size() <= broker::api::kMaxManyTransactions) return client_->StartCommitMany(gids);
  std::vector<std::unique_ptr<StartedCall>> out;
  out.reserve(gids.size());
  for (size_t i = 0; i < gids.size(); i += broker::api::kMaxManyTransactions) {
    const size_t end = std::min(gids.size(), i + broker::api::kMaxManyTransactions);
    Append(client_->StartCommitMany(std::vector<std::string>(gids.begin() + i, gids.begin() + end)),
           &out);
  }
  return out;
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

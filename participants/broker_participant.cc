#include "participants/broker_participant.h"

#include <algorithm>
#include <cstddef>
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

// The calls of several requests, each over [begin, end) of `ends`' ranges
// of the batch (`start(begin, end)` starts one), in the batch's order.
template <class Start>
std::vector<std::unique_ptr<StartedCall>> StartInRequests(const std::vector<size_t>& ends,
                                                          Start start) {
  std::vector<std::unique_ptr<StartedCall>> out;
  out.reserve(ends.empty() ? 0 : ends.back());
  size_t begin = 0;
  for (size_t end : ends) {
    for (auto& c : start(begin, end)) out.push_back(std::move(c));
    begin = end;
  }
  return out;
}

template <class T>
std::vector<T> Slice(const std::vector<T>& v, size_t begin, size_t end) {
  return std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(begin),
                        v.begin() + static_cast<std::ptrdiff_t>(end));
}

}  // namespace

std::vector<std::unique_ptr<StartedCall>> BrokerParticipant::StartPrepareMany(
    const std::vector<std::string>& gids, const std::vector<const Work*>& works) {
  if (gids.size() != works.size()) return {};
  std::vector<const std::vector<OutMessage>*> messages;
  messages.reserve(works.size());
  // Where each request ends: before the transaction that would take it
  // over the budget or over the gid limit.
  std::vector<size_t> ends;
  size_t begin = 0, bytes = 0;
  for (size_t i = 0; i < gids.size(); ++i) {
    const size_t b = PrepareBytes(gids[i], *works[i]);
    if (i > begin &&
        (bytes + b > kManyBodyBudget || i - begin == broker::api::kMaxManyTransactions)) {
      ends.push_back(i);
      begin = i;
      bytes = 0;
    }
    bytes += b;
    messages.push_back(&works[i]->messages);
  }
  // The usual case, a lockstep batch of small orders: one request.
  if (ends.empty()) return client_->StartPrepareMany(gids, messages);
  ends.push_back(gids.size());
  return StartInRequests(ends, [&](size_t from, size_t to) {
    return client_->StartPrepareMany(Slice(gids, from, to), Slice(messages, from, to));
  });
}

std::vector<std::unique_ptr<StartedCall>> BrokerParticipant::StartCommitMany(
    const std::vector<std::string>& gids) {
  const size_t max = broker::api::kMaxManyTransactions;
  if (gids.size() <= max) return client_->StartCommitMany(gids);
  std::vector<size_t> ends;
  for (size_t end = max; end < gids.size(); end += max) ends.push_back(end);
  ends.push_back(gids.size());
  return StartInRequests(ends, [&](size_t from, size_t to) {
    return client_->StartCommitMany(Slice(gids, from, to));
  });
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

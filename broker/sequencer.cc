#include "broker/sequencer.h"

namespace dw::broker {

void Sequencer::Reset() {
  records_.clear();
  ends_.clear();
  ids_.clear();
  gids_.clear();
}

Sequencer::TopicCursor Sequencer::Cursor(const std::string& topic) {
  return TopicCursor{&topic, &ids_[topic], store_->Ids(topic)};
}

TxnState Sequencer::State(const std::string& gid) {
  auto it = gids_.find(gid);
  if (it != gids_.end()) {
    used_overlay_ = true;
    return it->second.state;
  }
  return store_->State(gid);
}

uint64_t Sequencer::Assign(TopicCursor& c, const MessageData& m, bool* created) {
  if (!m.id.empty()) {
    // Both indexes hash ids alike (absl's string hash): hash once, probe both.
    const size_t hash = c.batch_ids->hash_function()(m.id);
    if (auto it = c.batch_ids->find(m.id, hash); it != c.batch_ids->end()) {
      used_overlay_ = true;
      *created = false;
      return it->second;
    }
    if (c.stored_ids != nullptr) {
      if (auto it = c.stored_ids->find(m.id, hash); it != c.stored_ids->end()) {
        *created = false;
        return it->second;
      }
    }
  }
  if (c.end == nullptr) {
    auto it = ends_.find(*c.topic);
    if (it == ends_.end()) {
      it = ends_.emplace(*c.topic, store_->EndOffset(*c.topic)).first;
    } else {
      used_overlay_ = true;
    }
    c.end = &it->second;
  } else {
    used_overlay_ = true;  // the offset follows one assigned in this batch
  }
  const uint64_t off = (*c.end)++;
  if (!m.id.empty()) c.batch_ids->emplace(m.id, off);
  *created = true;
  return off;
}

void Sequencer::Plan(Mutation m, int64_t now_ms, Outcome* out, bool* depends_on_batch) {
  *out = Outcome();
  used_overlay_ = false;
  size_t records_before = records_.size();
  switch (m.kind) {
    case Mutation::Kind::kPublish:
    case Mutation::Kind::kPublishBatch:
      PlanPublish(m, now_ms, out);
      break;
    case Mutation::Kind::kPrepare:
      PlanPrepare(m, now_ms, out);
      break;
    case Mutation::Kind::kCommit:
      PlanCommit(m, now_ms, out);
      break;
    case Mutation::Kind::kAbort:
      PlanAbort(m, out);
      break;
    case Mutation::Kind::kPrecommit:
      PlanPrecommit(m, out);
      break;
  }
  *depends_on_batch = used_overlay_ || records_.size() != records_before;
}

void Sequencer::PlanPublish(Mutation& m, int64_t now_ms, Outcome* out) {
  Record rec;
  rec.type = Record::Type::kPublish;
  rec.topic = m.topic;
  rec.ts_ms = now_ms;
  out->offsets.reserve(m.messages.size());
  rec.messages.reserve(m.messages.size());
  TopicCursor c = Cursor(m.topic);
  c.batch_ids->reserve(c.batch_ids->size() + m.messages.size());
  for (auto& msg : m.messages) {
    bool created;
    uint64_t off = Assign(c, msg, &created);
    if (created) {
      if (rec.messages.empty()) rec.first_offset = off;
      rec.messages.push_back(std::move(msg));
    }
    out->offsets.push_back(off);
    out->created = out->created || created;
    if (!created) ++out->duplicates;
  }
  if (!rec.messages.empty()) records_.push_back(std::move(rec));
}

void Sequencer::PlanPrepare(const Mutation& m, int64_t now_ms, Outcome* out) {
  switch (State(m.gid)) {
    case TxnState::kPrepared:  // a retried prepare: the vote stands
    case TxnState::kPrecommitted:
    case TxnState::kCommitted:  // a very late retry: nothing to stage, commit already happened
      return;
    case TxnState::kAborted:
      out->status = Status::Aborted("transaction " + m.gid + " was already aborted");
      return;
    case TxnState::kUnknown:
      break;
  }
  Record rec;
  rec.gid = m.gid;
  if (m.inject_abort) {
    // A participant that votes abort has aborted unilaterally: remember it, so
    // a retried prepare gets the same vote and a stray commit is refused.
    rec.type = Record::Type::kAbort;
    gids_[m.gid] = GidOverlay{TxnState::kAborted, {}, {}};
    out->status = Status::Aborted("injected fault: abort probability");
  } else {
    rec.type = Record::Type::kPrepare;
    rec.ts_ms = now_ms;
    rec.staged = m.staged;
    gids_[m.gid] = GidOverlay{TxnState::kPrepared, m.staged, {}};
  }
  records_.push_back(std::move(rec));
}

void Sequencer::PlanCommit(const Mutation& m, int64_t now_ms, Outcome* out) {
  const std::vector<StagedMessage>* staged = nullptr;
  switch (State(m.gid)) {
    case TxnState::kUnknown:
      out->status = Status::NotFound("transaction " + m.gid + " is not prepared");
      return;
    case TxnState::kAborted:
      out->status = Status::FailedPrecondition("transaction " + m.gid + " was aborted");
      return;
    case TxnState::kCommitted: {  // idempotent: answer with the offsets it got
      auto g = gids_.find(m.gid);
      out->offsets = g != gids_.end() ? g->second.offsets : *store_->CommittedOffsets(m.gid);
      return;
    }
    case TxnState::kPrepared:
    case TxnState::kPrecommitted: {
      auto g = gids_.find(m.gid);
      staged = g != gids_.end() ? &g->second.staged : &store_->FindPrepared(m.gid)->messages;
      break;
    }
  }
  Record rec;
  rec.type = Record::Type::kCommit;
  rec.gid = m.gid;
  rec.ts_ms = now_ms;
  for (const auto& s : *staged) {
    bool created;
    TopicCursor c = Cursor(s.topic);
    rec.offsets.push_back(Assign(c, s.data, &created));
    if (!created) ++out->duplicates;
  }
  out->offsets = rec.offsets;
  gids_[m.gid] = GidOverlay{TxnState::kCommitted, {}, rec.offsets};
  records_.push_back(std::move(rec));
}

void Sequencer::PlanAbort(const Mutation& m, Outcome* out) {
  switch (State(m.gid)) {
    case TxnState::kAborted:
      return;  // idempotent
    case TxnState::kCommitted:
      out->status = Status::FailedPrecondition("transaction " + m.gid + " is already committed");
      return;
    case TxnState::kPrepared:
    case TxnState::kPrecommitted:  // the 3PC protocol decides; the broker only records it
    case TxnState::kUnknown:
      // Unknown gids are recorded too (presumed abort): a prepare that
      // arrives after its abort must vote abort, even across a restart.
      break;
  }
  Record rec;
  rec.type = Record::Type::kAbort;
  rec.gid = m.gid;
  gids_[m.gid] = GidOverlay{TxnState::kAborted, {}, {}};
  records_.push_back(std::move(rec));
}

void Sequencer::PlanPrecommit(const Mutation& m, Outcome* out) {
  switch (State(m.gid)) {
    case TxnState::kUnknown:
      out->status = Status::NotFound("transaction " + m.gid + " is not prepared");
      return;
    case TxnState::kAborted:
      out->status = Status::FailedPrecondition("transaction " + m.gid + " was aborted");
      return;
    case TxnState::kPrecommitted:  // a retried precommit: nothing more to record
    case TxnState::kCommitted:     // a late retry: the commit it leads to already happened
      return;
    case TxnState::kPrepared:
      break;
  }
  auto g = gids_.find(m.gid);
  std::vector<StagedMessage> staged =
      g != gids_.end() ? g->second.staged : store_->FindPrepared(m.gid)->messages;
  Record rec;
  rec.type = Record::Type::kPrecommit;
  rec.gid = m.gid;
  gids_[m.gid] = GidOverlay{TxnState::kPrecommitted, std::move(staged), {}};
  records_.push_back(std::move(rec));
}

}  // namespace dw::broker

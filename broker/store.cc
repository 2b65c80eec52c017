#include "broker/store.h"

#include <algorithm>
#include <mutex>
#include <utility>

namespace dw::broker {
namespace {

Status Inconsistent(const Record& r, const std::string& why) {
  std::string what = r.type == Record::Type::kPublish ? "topic " + r.topic : "gid " + r.gid;
  return Status::Corruption(std::string("broker log: ") + RecordTypeName(r.type) + " record for " +
                            what + " contradicts the state: " + why);
}

}  // namespace

Status Store::Apply(Record r) {
  std::unique_lock lock(mu_);
  return ApplyLocked(r);
}

Status Store::ApplyAll(std::vector<Record> records) {
  std::unique_lock lock(mu_);
  for (auto& r : records) {
    Status s = ApplyLocked(r);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status Store::ApplyLocked(Record& r) {
  Status s;
  switch (r.type) {
    case Record::Type::kPublish:
      s = ApplyPublish(r);
      break;
    case Record::Type::kPrepare:
      s = ApplyPrepare(r);
      break;
    case Record::Type::kCommit:
      s = ApplyCommit(r);
      break;
    case Record::Type::kAbort:
      s = ApplyAbort(r);
      break;
    case Record::Type::kPrecommit:
      s = ApplyPrecommit(r);
      break;
  }
  if (s.ok()) ++records_applied_;
  return s;
}

Status Store::ApplyPublish(Record& r) {
  auto it = topics_.find(r.topic);
  uint64_t end = it == topics_.end() ? 0 : it->second.messages.size();
  if (r.first_offset != end) {
    return Inconsistent(
        r, "first offset " + std::to_string(r.first_offset) + ", expected " + std::to_string(end));
  }
  const bool new_topic = it == topics_.end();
  if (new_topic) it = topics_.try_emplace(r.topic).first;
  Topic& t = it->second;
  // Index the ids first, one probe each: try_emplace is both the check that
  // the id is not stored yet (nor earlier in this record) and the insert. A
  // record that repeats an id changes nothing: its ids indexed so far are
  // taken out again (all of them are its own, since the first clash stops it).
  t.ids.reserve(t.ids.size() + r.messages.size());
  for (size_t i = 0; i < r.messages.size(); ++i) {
    const std::string& id = r.messages[i].id;
    if (id.empty() || t.ids.try_emplace(id, r.first_offset + i).second) continue;
    for (size_t j = 0; j < i; ++j) {
      if (!r.messages[j].id.empty()) t.ids.erase(r.messages[j].id);
    }
    if (new_topic) topics_.erase(it);
    return Inconsistent(r, "id '" + id + "' stored twice");
  }
  uint64_t off = r.first_offset;
  for (auto& m : r.messages) {
    t.messages.push_back(StoredMessage{off, std::move(m), r.ts_ms});
    ++off;
  }
  return Status::OK();
}

Status Store::ApplyPrepare(const Record& r) {
  if (prepared_.count(r.gid) || committed_.count(r.gid) || aborted_.count(r.gid)) {
    return Inconsistent(r, "gid already known");
  }
  prepared_.emplace(r.gid, PreparedTxn{r.gid, r.ts_ms, r.staged});
  return Status::OK();
}

Status Store::ApplyCommit(const Record& r) {
  auto p = prepared_.find(r.gid);
  if (p == prepared_.end()) return Inconsistent(r, "gid is not prepared");
  const auto& staged = p->second.messages;
  if (staged.size() != r.offsets.size()) return Inconsistent(r, "offset count mismatch");

  // Dry run: each staged message is either new (takes the topic's next
  // offset) or a duplicate of an id already stored (keeps that offset).
  // Duplicates may also be earlier messages of this same commit.
  std::map<std::string, uint64_t> ends;
  std::map<std::pair<std::string, std::string>, uint64_t> fresh_ids;
  for (size_t i = 0; i < staged.size(); ++i) {
    const auto& m = staged[i];
    auto t = topics_.find(m.topic);
    auto e = ends.find(m.topic);
    uint64_t end =
        e != ends.end() ? e->second : (t == topics_.end() ? 0 : t->second.messages.size());
    std::optional<uint64_t> existing;
    if (!m.data.id.empty()) {
      auto f = fresh_ids.find({m.topic, m.data.id});
      if (f != fresh_ids.end()) {
        existing = f->second;
      } else if (t != topics_.end()) {
        auto id = t->second.ids.find(m.data.id);
        if (id != t->second.ids.end()) existing = id->second;
      }
    }
    if (existing) {
      if (*existing != r.offsets[i]) return Inconsistent(r, "duplicate id with another offset");
    } else {
      if (r.offsets[i] != end) return Inconsistent(r, "offset is not the topic's next");
      ends[m.topic] = end + 1;
      if (!m.data.id.empty()) fresh_ids[{m.topic, m.data.id}] = end;
    }
  }

  for (size_t i = 0; i < staged.size(); ++i) {
    const auto& m = staged[i];
    Topic& t = topics_[m.topic];
    if (r.offsets[i] != t.messages.size()) continue;  // a duplicate (checked above)
    if (!m.data.id.empty()) t.ids.emplace(m.data.id, r.offsets[i]);
    t.messages.push_back(StoredMessage{r.offsets[i], m.data, r.ts_ms});
  }
  committed_.emplace(r.gid, r.offsets);
  prepared_.erase(p);
  return Status::OK();
}

Status Store::ApplyAbort(const Record& r) {
  if (committed_.count(r.gid)) return Inconsistent(r, "gid is committed");
  if (aborted_.count(r.gid)) return Inconsistent(r, "gid is already aborted");
  prepared_.erase(r.gid);
  aborted_.insert(r.gid);
  return Status::OK();
}

Status Store::ApplyPrecommit(const Record& r) {
  auto p = prepared_.find(r.gid);
  if (p == prepared_.end()) return Inconsistent(r, "gid is not prepared");
  // The sequencer answers a repeated precommit without a record.
  if (p->second.precommitted) return Inconsistent(r, "gid is already precommitted");
  p->second.precommitted = true;
  return Status::OK();
}

uint64_t Store::EndOffset(const std::string& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : it->second.messages.size();
}

const Store::IdIndex* Store::Ids(const std::string& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : &it->second.ids;
}

std::optional<uint64_t> Store::FindId(const std::string& topic, const std::string& id) const {
  auto it = topics_.find(topic);
  if (it == topics_.end()) return std::nullopt;
  auto f = it->second.ids.find(id);
  if (f == it->second.ids.end()) return std::nullopt;
  return f->second;
}

TxnState Store::State(const std::string& gid) const {
  auto p = prepared_.find(gid);
  if (p != prepared_.end()) {
    return p->second.precommitted ? TxnState::kPrecommitted : TxnState::kPrepared;
  }
  if (committed_.count(gid)) return TxnState::kCommitted;
  if (aborted_.count(gid)) return TxnState::kAborted;
  return TxnState::kUnknown;
}

const PreparedTxn* Store::FindPrepared(const std::string& gid) const {
  auto it = prepared_.find(gid);
  return it == prepared_.end() ? nullptr : &it->second;
}

const std::vector<uint64_t>* Store::CommittedOffsets(const std::string& gid) const {
  auto it = committed_.find(gid);
  return it == committed_.end() ? nullptr : &it->second;
}

uint64_t Store::Read(const std::string& topic, uint64_t from, size_t limit,
                     std::vector<StoredMessage>* out) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return from;
  const auto& msgs = it->second.messages;
  if (from >= msgs.size()) return from;
  uint64_t end = std::min<uint64_t>(msgs.size(), from + limit);
  out->insert(out->end(), msgs.begin() + from, msgs.begin() + end);
  return end;
}

std::vector<PreparedTxn> Store::ListPrepared() const {
  std::shared_lock lock(mu_);
  std::vector<PreparedTxn> out;
  out.reserve(prepared_.size());
  for (const auto& [gid, p] : prepared_) out.push_back(p);
  return out;
}

Store::Stats Store::GetStats() const {
  std::shared_lock lock(mu_);
  Stats s;
  s.records_applied = records_applied_;
  s.prepared = prepared_.size();
  for (const auto& [gid, p] : prepared_) s.precommitted += p.precommitted ? 1 : 0;
  s.committed = committed_.size();
  s.aborted = aborted_.size();
  for (const auto& [name, t] : topics_) s.topic_sizes.emplace_back(name, t.messages.size());
  return s;
}

}  // namespace dw::broker

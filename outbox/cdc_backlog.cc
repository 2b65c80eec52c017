#include "outbox/cdc_backlog.h"

#include <algorithm>

namespace dw::outbox {

void CdcBacklog::Commit(uint64_t end_lsn) {
  in_txn_ = false;
  last_commit_end_ = end_lsn;
}

void CdcBacklog::SawWalEnd(uint64_t lsn) { wal_end_ = std::max(wal_end_, lsn); }

void CdcBacklog::Restart() {
  in_txn_ = false;
  events_.clear();
}

Status CdcBacklog::Publish(Publisher* publisher, Trace* tr, const std::string& trace_id) {
  Status s = PublishTraced(publisher, events_, tr, trace_id);
  if (!s.ok()) return s;
  events_.clear();
  if (last_commit_end_ > confirmed_) confirmed_ = last_commit_end_;
  return Status::OK();
}

void CdcBacklog::ConfirmIdle() {
  if (events_.empty() && !in_txn_ && wal_end_ > confirmed_) confirmed_ = wal_end_;
}

}  // namespace dw::outbox

#include "outbox/cdc_backlog.h"

#include <algorithm>
#include <iterator>

namespace dw::outbox {

void CdcBacklog::Commit(uint64_t end_lsn) {
  in_txn_ = false;
  last_commit_end_ = end_lsn;
}

void CdcBacklog::SawWalEnd(uint64_t lsn) { wal_end_ = std::max(wal_end_, lsn); }

void CdcBacklog::Restart() {
  in_txn_ = false;
  in_flight_ = false;
  events_.clear();
}

Status CdcBacklog::Publish(Publisher* publisher, Trace* tr, const std::string& trace_id) {
  std::vector<OutboxEvent> batch;
  Take(&batch);
  Status s = PublishTraced(publisher, batch, tr, trace_id);
  if (!s.ok()) {
    Failed(std::move(batch));
    return s;
  }
  Acked();
  return Status::OK();
}

void CdcBacklog::Take(std::vector<OutboxEvent>* batch) {
  *batch = std::move(events_);
  events_.clear();
  in_flight_ = true;
  in_flight_end_ = last_commit_end_;
}

void CdcBacklog::Acked() {
  in_flight_ = false;
  if (in_flight_end_ > confirmed_) confirmed_ = in_flight_end_;
}

void CdcBacklog::Failed(std::vector<OutboxEvent> batch) {
  in_flight_ = false;
  // In front of what was read while it was in flight: the stream's order.
  batch.insert(batch.end(), std::make_move_iterator(events_.begin()),
               std::make_move_iterator(events_.end()));
  events_ = std::move(batch);
}

void CdcBacklog::ConfirmIdle() {
  if (events_.empty() && !in_flight_ && !in_txn_ && wal_end_ > confirmed_) confirmed_ = wal_end_;
}

}  // namespace dw::outbox

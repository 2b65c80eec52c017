// CdcBacklog: what the cdc relay has read from the replication stream and
// not yet published, and how far it may confirm the slot's flush position.
// The relay's settle logic, apart from libpq (relay_cdc.h) so it can be
// tested with a fake publisher.
//
// The rule: the confirmed position passes a transaction's commit only after
// the broker acknowledged every event of that transaction, and every event
// read before it. So
//   - a failed Publish changes nothing: the same events go first next time;
//   - a successful one confirms up to the end of the last COMPLETE
//     transaction read; a transaction the batch ended inside stays
//     unconfirmed (after a restart its events come again, and the broker
//     deduplicates the ones already published);
//   - with nothing buffered and no transaction open, everything the server
//     sent is settled, so its reported WAL end may be confirmed (as
//     pg_recvlogical does): the slot then keeps no WAL that holds no outbox
//     inserts.
// A restarted stream resends from the confirmed position: Restart drops the
// buffer and the open transaction, never the positions.
//
// Publishing in two halves (the relay reads ahead while a batch is in
// flight): Take moves the buffer out and notes the end of the last complete
// transaction read so far; reading goes on into a fresh buffer; then Acked
// confirms the noted position, or Failed puts the batch back in front of
// what was read meanwhile. Nothing is confirmed while a batch is in flight,
// not even by ConfirmIdle.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/trace.h"
#include "outbox/event.h"
#include "outbox/publisher.h"

namespace dw::outbox {

class CdcBacklog {
 public:
  // What the stream delivers, in order.
  void Begin() { in_txn_ = true; }
  void Insert(OutboxEvent e) { events_.push_back(std::move(e)); }
  void Commit(uint64_t end_lsn);
  void SawWalEnd(uint64_t lsn);  // a keepalive's or XLogData's WAL end
  void Restart();

  // Publishes every buffered event (traced as a send to the publisher's peer when `tr`
  // is non-null); see the rule above.
  Status Publish(Publisher* publisher, Trace* tr, const std::string& trace_id);
  // Confirms the server's WAL end when nothing is pending (the rule above).
  void ConfirmIdle();

  // The two halves of Publish (above). One batch in flight at a time.
  void Take(std::vector<OutboxEvent>* batch);
  void Acked();
  void Failed(std::vector<OutboxEvent> batch);
  bool in_flight() const { return in_flight_; }

  const std::vector<OutboxEvent>& events() const { return events_; }
  size_t size() const { return events_.size(); }
  bool empty() const { return events_.empty(); }
  bool in_txn() const { return in_txn_; }
  uint64_t confirmed() const { return confirmed_; }  // published up to here
  uint64_t wal_end() const { return wal_end_; }

 private:
  std::vector<OutboxEvent> events_;
  bool in_txn_ = false;
  uint64_t last_commit_end_ = 0;  // end LSN of the last complete transaction read
  uint64_t confirmed_ = 0;
  uint64_t wal_end_ = 0;  // the highest WAL end the server reported
  bool in_flight_ = false;
  uint64_t in_flight_end_ = 0;  // last_commit_end_ when the batch in flight was taken
};

}  // namespace dw::outbox

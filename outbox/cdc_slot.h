// CdcSlot: the cdc relay's catalog side of its replication slot, over
// ordinary SQL sessions (the replication commands are CdcStream's,
// cdc_stream.h):
//
//   - Prepare: the publication (created once, with a column list: only what
//     the relay publishes), the slot's name, and the relay's outbox_counter
//     row (the watermark's, cdc_watermark.h).
//   - CheckUsable: a slot is trusted only once its initial copy finished
//     (outbox_counter key "cdc-snapshot:<crc32c of the slot name>"). A slot
//     without that marker is dropped, and a marker without its slot is
//     deleted: either way the caller creates the slot again.
//   - InitialCopy: a slot only sees what commits after it exists, so the rows
//     already in outbox_table when it was created are published from the
//     snapshot CREATE_REPLICATION_SLOT exported, then the marker is written
//     in that same transaction. A failed copy leaves no marker.
//   - RetainedWal: how much WAL the slot holds back (a stopped relay makes
//     Postgres keep every segment since).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "outbox/publisher.h"
#include "outbox/relay.h"

namespace dw {
class PgPool;
}

namespace dw::outbox {

// "dw_outbox_<database>", lower-cased, other characters mapped to '_',
// at most 63 bytes (NAMEDATALEN).
std::string DefaultSlotName(const std::string& database);

class CdcSlot {
 public:
  // Creates the publication and the counter row if missing, and settles the
  // slot's name (RelayOptions::slot, or DefaultSlotName of the database) on
  // the first call.
  Status Prepare(PgPool* pool, const RelayOptions& opts);
  const std::string& name() const { return name_; }

  // *usable: the slot exists and its initial copy finished (see above).
  Status CheckUsable(PgPool* pool, bool* usable);

  // Publishes every row of outbox_table visible in `snapshot`, `batch` at a
  // time, adding each acknowledged batch's size to *published, then marks
  // the copy finished.
  Status InitialCopy(PgPool* pool, Publisher* publisher, const std::string& snapshot, int batch,
                     uint64_t* published);

  // Bytes of WAL between the server's current position and the slot's
  // restart_lsn; nullopt when the slot or its restart_lsn is missing.
  Status RetainedWal(PgPool* pool, std::optional<int64_t>* bytes);

 private:
  std::string name_;
  std::string snapshot_key_;  // the initial copy's marker in outbox_counter
};

}  // namespace dw::outbox

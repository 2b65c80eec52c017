// CdcChanges: what a pgoutput message (an XLogData's payload, or a row of a
// peek: cdc_stream.h, cdc_sql_reader.h) means for the cdc relay's backlog
// (cdc_backlog.h). Pure: no I/O.
//
//   Begin, Commit  open and close a transaction (Commit's end LSN is what
//                  the slot may be confirmed to once it is published).
//   Relation       for outbox_table, where its columns are: they are looked
//                  up by name, so a publication with a column list and one
//                  with every column read the same. The publication sends
//                  partitions' inserts as outbox_table's
//                  (publish_via_partition_root).
//   Insert         into outbox_table: an event.
//   Message        transactional, prefix dw_outbox (`outbox write
//                  --emit-message`, emit_message.h): an event.
// Everything else is skipped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "outbox/cdc_backlog.h"
#include "outbox/pgoutput.h"

namespace dw::outbox {

class CdcChanges {
 public:
  // Decodes `change` and applies it to *backlog. When `note` is non-null it
  // is set to a one-line description of a message that mattered (for a
  // trace), and left empty otherwise.
  Status Apply(std::string_view change, CdcBacklog* backlog, std::string* note);

  // A new stream or chunk describes its relations again.
  void Restart() { decoder_ = pgoutput::Decoder(); }

 private:
  pgoutput::Decoder decoder_;
  uint32_t outbox_oid_ = 0;
  std::vector<int> cols_;  // id, topic, event_id, msg_key, payload
};

}  // namespace dw::outbox

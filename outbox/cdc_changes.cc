#include "outbox/cdc_changes.h"

#include <algorithm>

#include "outbox/emit_message.h"
#include "outbox/event.h"

namespace dw::outbox {

Status CdcChanges::Apply(std::string_view change, CdcBacklog* backlog, std::string* note) {
  using pgoutput::Message;
  if (note) note->clear();
  Message msg;
  Status s = decoder_.Decode(change, &msg);
  if (!s.ok()) return s;
  switch (msg.kind) {
    case Message::Kind::kBegin:
      backlog->Begin();
      if (note) *note = "XLogData: BEGIN xid " + std::to_string(msg.xid);
      break;
    case Message::Kind::kCommit:
      backlog->Commit(msg.end_lsn);
      if (note) *note = "XLogData: COMMIT, end LSN " + pgoutput::FormatLsn(msg.end_lsn);
      break;
    case Message::Kind::kRelation:
      if (msg.relation->relname == "outbox_table") {
        const auto* rel = msg.relation;
        cols_ = {rel->ColumnIndex("id"), rel->ColumnIndex("topic"), rel->ColumnIndex("event_id"),
                 rel->ColumnIndex("msg_key"), rel->ColumnIndex("payload")};
        outbox_oid_ = rel->oid;
        if (std::find(cols_.begin(), cols_.end(), -1) != cols_.end()) {
          return Status::FailedPrecondition("cdc: outbox_table lacks a column the relay needs");
        }
      }
      break;
    case Message::Kind::kInsert: {
      if (msg.relation->oid != outbox_oid_) break;
      auto get = [&](int i) -> std::string {
        const auto& v = msg.values[static_cast<size_t>(cols_[i])];
        return v ? *v : std::string();
      };
      if (static_cast<int>(msg.values.size()) <= *std::max_element(cols_.begin(), cols_.end())) {
        return Status::Corruption("cdc: insert with too few columns");
      }
      OutboxEvent e;
      e.id = std::stoll(get(0));
      e.topic = get(1);
      e.event_id = get(2);
      e.key = get(3);
      e.payload = get(4);
      if (note) {
        *note =
            "XLogData: INSERT outbox_table id " + std::to_string(e.id) + " (" + e.event_id + ")";
      }
      backlog->Insert(std::move(e));
      break;
    }
    case Message::Kind::kLogicalMessage: {  // `outbox write --emit-message` (emit_message.h)
      if (!msg.transactional || msg.prefix != kEmitPrefix) break;
      OutboxEvent e;
      s = DecodeEmitMessage(msg.content, msg.message_lsn, &e);
      if (!s.ok()) return s;
      if (note) *note = "XLogData: MESSAGE " + msg.prefix + " (" + e.event_id + ")";
      backlog->Insert(std::move(e));
      break;
    }
    case Message::Kind::kOther:
      break;
  }
  return Status::OK();
}

}  // namespace dw::outbox

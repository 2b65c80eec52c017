#include "outbox/pgoutput.h"

#include <cstdio>

namespace dw::outbox::pgoutput {
namespace {

// A cursor over one message; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool U8(uint8_t* v) {
    if (left() < 1) return false;
    *v = static_cast<uint8_t>(b_[pos_++]);
    return true;
  }
  bool U16(uint16_t* v) {
    if (left() < 2) return false;
    *v = static_cast<uint16_t>((static_cast<uint8_t>(b_[pos_]) << 8) |
                               static_cast<uint8_t>(b_[pos_ + 1]));
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    if (left() < 4) return false;
    *v = ReadU32(b_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool U64(uint64_t* v) {
    if (left() < 8) return false;
    *v = ReadU64(b_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool CString(std::string* s) {
    size_t end = b_.find('\0', pos_);
    if (end == std::string_view::npos) return false;
    s->assign(b_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return true;
  }
  bool Bytes(size_t n, std::string* s) {
    if (left() < n) return false;
    s->assign(b_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  size_t left() const { return b_.size() - pos_; }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

Status Truncated(char type) {
  return Status::Corruption(std::string("pgoutput: truncated or malformed '") + type + "' message");
}

}  // namespace

int Relation::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

uint64_t ReadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint32_t ReadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string FormatLsn(uint64_t lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

bool ParseLsn(std::string_view text, uint64_t* lsn) {
  unsigned hi = 0, lo = 0;
  std::string s(text);
  char extra;
  if (std::sscanf(s.c_str(), "%X/%X%c", &hi, &lo, &extra) != 2) return false;
  *lsn = (static_cast<uint64_t>(hi) << 32) | lo;
  return true;
}

Status Decoder::Decode(std::string_view bytes, Message* out) {
  *out = Message{};
  if (bytes.empty()) return Status::Corruption("pgoutput: empty message");
  Reader r(bytes.substr(1));
  const char type = bytes[0];
  out->type = type;
  switch (type) {
    case 'B': {  // Begin: final LSN, commit timestamp, xid
      uint64_t ts;
      if (!r.U64(&out->final_lsn) || !r.U64(&ts) || !r.U32(&out->xid)) return Truncated(type);
      out->kind = Message::Kind::kBegin;
      return Status::OK();
    }
    case 'C': {  // Commit: flags, commit LSN, end LSN, commit timestamp
      uint8_t flags;
      uint64_t ts;
      if (!r.U8(&flags) || !r.U64(&out->commit_lsn) || !r.U64(&out->end_lsn) || !r.U64(&ts)) {
        return Truncated(type);
      }
      out->kind = Message::Kind::kCommit;
      return Status::OK();
    }
    case 'R': {  // Relation: oid, namespace, name, replica identity, columns
      Relation rel;
      uint8_t ident;
      uint16_t ncols;
      if (!r.U32(&rel.oid) || !r.CString(&rel.nspname) || !r.CString(&rel.relname) ||
          !r.U8(&ident) || !r.U16(&ncols)) {
        return Truncated(type);
      }
      for (uint16_t i = 0; i < ncols; ++i) {
        uint8_t flags;
        std::string name;
        uint32_t type_oid, typmod;
        if (!r.U8(&flags) || !r.CString(&name) || !r.U32(&type_oid) || !r.U32(&typmod)) {
          return Truncated(type);
        }
        rel.columns.push_back(std::move(name));
      }
      auto& slot = relations_[rel.oid];
      slot = std::move(rel);
      out->kind = Message::Kind::kRelation;
      out->relation = &slot;
      return Status::OK();
    }
    case 'I': {  // Insert: relation oid, 'N', TupleData
      uint32_t oid;
      uint8_t n;
      if (!r.U32(&oid) || !r.U8(&n) || n != 'N') return Truncated(type);
      auto it = relations_.find(oid);
      if (it == relations_.end()) {
        return Status::InvalidArgument("pgoutput: insert into relation " + std::to_string(oid) +
                                       " that was never described");
      }
      uint16_t ncols;
      if (!r.U16(&ncols)) return Truncated(type);
      out->values.reserve(ncols);
      for (uint16_t i = 0; i < ncols; ++i) {
        uint8_t kind;
        if (!r.U8(&kind)) return Truncated(type);
        if (kind == 'n' || kind == 'u') {
          out->values.emplace_back(std::nullopt);
        } else if (kind == 't' || kind == 'b') {
          uint32_t len;
          std::string v;
          if (!r.U32(&len) || !r.Bytes(len, &v)) return Truncated(type);
          out->values.emplace_back(std::move(v));
        } else {
          return Truncated(type);
        }
      }
      out->kind = Message::Kind::kInsert;
      out->relation = &it->second;
      return Status::OK();
    }
    case 'M': {  // Message (messages 'true'): flags, LSN, prefix, length, content
      uint8_t flags;
      uint32_t len;
      if (!r.U8(&flags) || !r.U64(&out->message_lsn) || !r.CString(&out->prefix) || !r.U32(&len) ||
          !r.Bytes(len, &out->content)) {
        return Truncated(type);
      }
      out->transactional = (flags & 1) != 0;
      out->kind = Message::Kind::kLogicalMessage;
      return Status::OK();
    }
    default:
      out->kind = Message::Kind::kOther;
      return Status::OK();
  }
}

}  // namespace dw::outbox::pgoutput

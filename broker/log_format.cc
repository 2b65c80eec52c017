#include "broker/log_format.h"

namespace dw::broker {
namespace {

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutString(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

// Consumes from the front of a string_view; every getter fails instead of
// reading past the end, so arbitrary bytes never crash the decoder.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool Byte(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }

  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64 && !in_.empty(); shift += 7) {
      uint64_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      if (shift == 63 && b > 1) return false;  // would overflow 64 bits
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }

  bool String(std::string* s) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size()) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }

  // A count of elements that each take at least one byte: a count larger than
  // what is left is damage, and must not drive a huge reserve().
  bool Count(uint64_t* n) { return Varint(n) && *n <= in_.size(); }

  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

Status Bad(const char* what) { return Status::Corruption(std::string("broker record: ") + what); }

}  // namespace

const char* RecordTypeName(Record::Type t) {
  switch (t) {
    case Record::Type::kPublish:
      return "publish";
    case Record::Type::kPrepare:
      return "prepare";
    case Record::Type::kCommit:
      return "commit";
    case Record::Type::kAbort:
      return "abort";
    case Record::Type::kPrecommit:
      return "precommit";
  }
  return "unknown";
}

void EncodeRecord(const Record& r, std::string* out) {
  out->push_back(static_cast<char>(r.type));
  switch (r.type) {
    case Record::Type::kPublish:
      PutString(r.topic, out);
      PutVarint(r.first_offset, out);
      PutVarint(static_cast<uint64_t>(r.ts_ms), out);
      PutVarint(r.messages.size(), out);
      for (const auto& m : r.messages) {
        PutString(m.id, out);
        PutString(m.key, out);
        PutString(m.payload, out);
      }
      break;
    case Record::Type::kPrepare:
      PutString(r.gid, out);
      PutVarint(static_cast<uint64_t>(r.ts_ms), out);
      PutVarint(r.staged.size(), out);
      for (const auto& m : r.staged) {
        PutString(m.topic, out);
        PutString(m.data.id, out);
        PutString(m.data.key, out);
        PutString(m.data.payload, out);
      }
      break;
    case Record::Type::kCommit:
      PutString(r.gid, out);
      PutVarint(static_cast<uint64_t>(r.ts_ms), out);
      PutVarint(r.offsets.size(), out);
      for (uint64_t o : r.offsets) PutVarint(o, out);
      break;
    case Record::Type::kAbort:
    case Record::Type::kPrecommit:
      PutString(r.gid, out);
      break;
  }
}

Status DecodeRecord(std::string_view in, Record* out) {
  Reader rd(in);
  *out = Record();
  uint8_t type;
  if (!rd.Byte(&type)) return Bad("empty");
  uint64_t n, ts;
  switch (type) {
    case static_cast<uint8_t>(Record::Type::kPublish):
      out->type = Record::Type::kPublish;
      if (!rd.String(&out->topic) || !rd.Varint(&out->first_offset) || !rd.Varint(&ts) ||
          !rd.Count(&n)) {
        return Bad("truncated publish header");
      }
      out->ts_ms = static_cast<int64_t>(ts);
      out->messages.resize(n);
      for (auto& m : out->messages) {
        if (!rd.String(&m.id) || !rd.String(&m.key) || !rd.String(&m.payload)) {
          return Bad("truncated publish message");
        }
      }
      break;
    case static_cast<uint8_t>(Record::Type::kPrepare):
      out->type = Record::Type::kPrepare;
      if (!rd.String(&out->gid) || !rd.Varint(&ts) || !rd.Count(&n)) {
        return Bad("truncated prepare header");
      }
      out->ts_ms = static_cast<int64_t>(ts);
      out->staged.resize(n);
      for (auto& m : out->staged) {
        if (!rd.String(&m.topic) || !rd.String(&m.data.id) || !rd.String(&m.data.key) ||
            !rd.String(&m.data.payload)) {
          return Bad("truncated prepare message");
        }
      }
      break;
    case static_cast<uint8_t>(Record::Type::kCommit):
      out->type = Record::Type::kCommit;
      if (!rd.String(&out->gid) || !rd.Varint(&ts) || !rd.Count(&n)) {
        return Bad("truncated commit header");
      }
      out->ts_ms = static_cast<int64_t>(ts);
      out->offsets.resize(n);
      for (auto& o : out->offsets) {
        if (!rd.Varint(&o)) return Bad("truncated commit offsets");
      }
      break;
    case static_cast<uint8_t>(Record::Type::kAbort):
      out->type = Record::Type::kAbort;
      if (!rd.String(&out->gid)) return Bad("truncated abort");
      break;
    case static_cast<uint8_t>(Record::Type::kPrecommit):
      out->type = Record::Type::kPrecommit;
      if (!rd.String(&out->gid)) return Bad("truncated precommit");
      break;
    default:
      return Bad("unknown record type");
  }
  if (!rd.empty()) return Bad("trailing bytes");
  return Status::OK();
}

}  // namespace dw::broker

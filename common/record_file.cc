#include "common/record_file.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/crc32c.h"

namespace dw {
namespace {

constexpr size_t kHeader = 8;
// A record larger than this is treated as damage, not as a real length:
// nothing in dualwrite writes records anywhere near it.
constexpr uint32_t kMaxRecord = 64u << 20;

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // x86-64 and aarch64 Linux are little endian
}

// How many payload bytes the search for valid frames behind damage may
// checksum. Every byte position is a candidate and each claims its own
// length, so without a bound a large garbage tail costs quadratic time (a
// 16 MiB one took 90 s). Past the budget the damage is reported as
// Corruption: the safe side, since nothing acknowledged is dropped.
constexpr uint64_t kProbeBudget = uint64_t{1} << 30;

// Parses one frame at `off`; returns its total size, or 0 if no valid frame is there.
// Adds the bytes it checksummed to *work when given.
size_t FrameAt(const std::string& data, size_t off, uint64_t* work = nullptr) {
  if (data.size() - off < kHeader) return 0;
  uint32_t len = Load32(data.data() + off);
  uint32_t crc = Load32(data.data() + off + 4);
  if (len == 0 || len > kMaxRecord || data.size() - off - kHeader < len) return 0;
  if (work) *work += len;
  uint32_t c = crc32c::Value(data.data() + off, 4);
  c = crc32c::Extend(c, data.data() + off + kHeader, len);
  return c == crc ? kHeader + len : 0;
}

}  // namespace

RecordFile::RecordFile(std::string path, std::unique_ptr<FileEnv::File> file, uint64_t size,
                       uint64_t allocated)
    : path_(std::move(path)), file_(std::move(file)), size_(size), allocated_(allocated) {}

RecordFile::~RecordFile() = default;

Status RecordFile::Open(const std::string& path, const ReplayFn& fn,
                        std::unique_ptr<RecordFile>* out, ReplayReport* report, FileEnv* env) {
  ReplayReport rep;
  std::unique_ptr<FileEnv::File> file;
  Status s = env->Open(path, &file);
  if (!s.ok()) return s;
  std::string data;
  s = file->ReadAll(&data);
  if (!s.ok()) return s;
  size_t off = 0;
  while (off < data.size()) {
    size_t n = FrameAt(data, off);
    if (n == 0) break;
    s = fn(std::string_view(data).substr(off + kHeader, n - kHeader));
    if (!s.ok()) return s;
    ++rep.records;
    off += n;
  }
  // Zeros at the end are space a preallocating writer left, not damage.
  size_t used = data.size();
  while (used > off && data[used - 1] == '\0') --used;
  rep.unused_bytes = data.size() - used;
  uint64_t allocated = data.size();
  if (off < used) {
    // Is there any valid frame after the damage? Then it is not a torn tail.
    uint64_t work = 0;
    for (size_t probe = off + 1; probe + kHeader <= data.size(); ++probe) {
      if (work > kProbeBudget) {
        return Status::Corruption(path + ": damaged record at byte " + std::to_string(off) +
                                  " is followed by " + std::to_string(data.size() - off) +
                                  " bytes too large to search for valid records; refusing to "
                                  "guess whether it is a torn tail");
      }
      if (FrameAt(data, probe, &work) != 0) {
        return Status::Corruption(path + ": damaged record at byte " + std::to_string(off) +
                                  " is followed by valid records at byte " + std::to_string(probe) +
                                  "; refusing to drop acknowledged data");
      }
    }
    rep.truncated_bytes = used - off;
    if (rep.unused_bytes > 0) {
      // Torn inside preallocated space: zero it and keep the space.
      s = file->WriteAt(std::string(used - off, '\0'), off);
      rep.unused_bytes += used - off;
    } else {
      s = file->Truncate(off);
      allocated = off;
    }
    if (s.ok()) s = file->Sync();
    if (!s.ok()) return s;
  }
  rep.valid_bytes = off;
  if (report) *report = rep;
  out->reset(new RecordFile(path, std::move(file), off, allocated));
  return Status::OK();
}

void RecordFile::Frame(std::string_view payload, std::string* buf) {
  uint32_t len = static_cast<uint32_t>(payload.size());
  char hdr[kHeader];
  std::memcpy(hdr, &len, 4);
  uint32_t c = crc32c::Value(hdr, 4);
  c = crc32c::Extend(c, payload.data(), payload.size());
  std::memcpy(hdr + 4, &c, 4);
  buf->append(hdr, kHeader);
  buf->append(payload);
}

Status RecordFile::Preallocate(uint64_t end) {
  const uint64_t target = (end / preallocate_ + 1) * preallocate_;
  Status s = file_->WriteAt(std::string(target - allocated_, '\0'), allocated_);
  if (s.ok()) s = file_->Sync();
  if (!s.ok()) {
    if (!file_->Truncate(allocated_).ok()) { /* zeros past the records are unused space */
    }
    return s;
  }
  allocated_ = target;
  return Status::OK();
}

Status RecordFile::AppendFramed(std::string_view framed) {
  const uint64_t end = size_ + framed.size();
  if (preallocate_ > 0 && end > allocated_) {
    Status s = Preallocate(end);
    if (!s.ok()) return s;
  }
  Status s = file_->WriteAt(framed, size_);
  if (!s.ok()) {
    // Cut back whatever part of the frame reached the file.
    if (!file_->Truncate(size_).ok()) { /* the torn tail is caught at the next replay */
    }
    allocated_ = size_;
    return s;
  }
  size_ = end;
  allocated_ = std::max(allocated_, size_);
  return Status::OK();
}

Status RecordFile::Sync() {
  Status s = file_->Sync();
  if (!s.ok()) return s;
  ++syncs_;
  return Status::OK();
}

Status RecordFile::Truncate(uint64_t size) {
  Status s = file_->Truncate(size);
  if (!s.ok()) return s;
  size_ = size;
  allocated_ = size;
  return Status::OK();
}

Status RecordFile::Rewrite(const std::string& path, const std::vector<std::string>& payloads,
                           FileEnv* env) {
  std::string buf;
  for (const auto& p : payloads) Frame(p, &buf);
  return env->ReplaceAtomically(path, buf);
}

}  // namespace dw

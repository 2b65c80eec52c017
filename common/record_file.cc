#include "common/record_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
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

Status Errno(const std::string& what, const std::string& path) {
  int e = errno;
  std::string m = what + " " + path + ": " + std::strerror(e);
  if (e == ENOSPC || e == EDQUOT || e == EFBIG) return Status::NoSpace(m);
  return Status::IOError(m);
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

Status ReadAll(int fd, const std::string& path, std::string* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno("stat", path);
  out->resize(st.st_size);
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = pread(fd, out->data() + got, out->size() - got, got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path);
    }
    if (n == 0) break;
    got += n;
  }
  out->resize(got);
  return Status::OK();
}

Status WriteAllAt(int fd, std::string_view bytes, uint64_t off, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = pwrite(fd, bytes.data() + done, bytes.size() - done, off + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    done += n;
  }
  return Status::OK();
}

Status SyncDir(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("open dir", dir.string());
  int r = fsync(dfd);
  ::close(dfd);
  if (r != 0) return Errno("fsync dir", dir.string());
  return Status::OK();
}

}  // namespace

RecordFile::RecordFile(std::string path, int fd, uint64_t size)
    : path_(std::move(path)), fd_(fd), size_(size) {}

RecordFile::~RecordFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status RecordFile::Open(const std::string& path, const ReplayFn& fn,
                        std::unique_ptr<RecordFile>* out, ReplayReport* report) {
  ReplayReport rep;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", path);
  std::string data;
  Status s = ReadAll(fd, path, &data);
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  size_t off = 0;
  while (off < data.size()) {
    size_t n = FrameAt(data, off);
    if (n == 0) break;
    s = fn(std::string_view(data).substr(off + kHeader, n - kHeader));
    if (!s.ok()) {
      ::close(fd);
      return s;
    }
    ++rep.records;
    off += n;
  }
  if (off < data.size()) {
    // Is there any valid frame after the damage? Then it is not a torn tail.
    uint64_t work = 0;
    for (size_t probe = off + 1; probe + kHeader <= data.size(); ++probe) {
      if (work > kProbeBudget) {
        ::close(fd);
        return Status::Corruption(path + ": damaged record at byte " + std::to_string(off) +
                                  " is followed by " + std::to_string(data.size() - off) +
                                  " bytes too large to search for valid records; refusing to "
                                  "guess whether it is a torn tail");
      }
      if (FrameAt(data, probe, &work) != 0) {
        ::close(fd);
        return Status::Corruption(path + ": damaged record at byte " + std::to_string(off) +
                                  " is followed by valid records at byte " + std::to_string(probe) +
                                  "; refusing to drop acknowledged data");
      }
    }
    rep.truncated_bytes = data.size() - off;
    if (ftruncate(fd, off) != 0 || fdatasync(fd) != 0) {
      Status e = Errno("truncate", path);
      ::close(fd);
      return e;
    }
  }
  rep.valid_bytes = off;
  if (report) *report = rep;
  out->reset(new RecordFile(path, fd, off));
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

Status RecordFile::AppendFramed(std::string_view framed) {
  Status s = WriteAllAt(fd_, framed, size_, path_);
  if (!s.ok()) {
    // Cut back whatever part of the frame reached the file.
    if (ftruncate(fd_, size_) != 0) { /* the torn tail is caught at the next replay */
    }
    return s;
  }
  size_ += framed.size();
  return Status::OK();
}

Status RecordFile::Sync() {
  if (fdatasync(fd_) != 0) return Errno("fdatasync", path_);
  ++syncs_;
  return Status::OK();
}

Status RecordFile::Truncate(uint64_t size) {
  if (ftruncate(fd_, size) != 0) return Errno("truncate", path_);
  size_ = size;
  return Status::OK();
}

Status RecordFile::Rewrite(const std::string& path, const std::vector<std::string>& payloads) {
  std::string buf;
  for (const auto& p : payloads) Frame(p, &buf);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", tmp);
  Status s = WriteAllAt(fd, buf, 0, tmp);
  if (s.ok() && fdatasync(fd) != 0) s = Errno("fdatasync", tmp);
  ::close(fd);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  return SyncDir(path);
}

}  // namespace dw

#include "common/file_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace dw {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  int e = errno;
  std::string m = what + " " + path + ": " + std::strerror(e);
  if (e == ENOSPC || e == EDQUOT || e == EFBIG) return Status::NoSpace(m);
  return Status::IOError(m);
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

class PosixFile : public FileEnv::File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }

  Status ReadAll(std::string* out) override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return Errno("stat", path_);
    out->resize(st.st_size);
    size_t got = 0;
    while (got < out->size()) {
      ssize_t n = pread(fd_, out->data() + got, out->size() - got, got);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("read", path_);
      }
      if (n == 0) break;
      got += n;
    }
    out->resize(got);
    return Status::OK();
  }

  Status WriteAt(std::string_view bytes, uint64_t offset) override {
    return WriteAllAt(fd_, bytes, offset, path_);
  }

  Status Sync() override {
    if (fdatasync(fd_) != 0) return Errno("fdatasync", path_);
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, size) != 0) return Errno("truncate", path_);
    return Status::OK();
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixEnv : public FileEnv {
 public:
  Status Open(const std::string& path, std::unique_ptr<File>* out) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open", path);
    *out = std::make_unique<PosixFile>(path, fd);
    return Status::OK();
  }

  Status ReplaceAtomically(const std::string& path, std::string_view bytes) override {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open", tmp);
    Status s = WriteAllAt(fd, bytes, 0, tmp);
    if (s.ok() && fdatasync(fd) != 0) s = Errno("fdatasync", tmp);
    ::close(fd);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
    return SyncDir(path);
  }
};

}  // namespace

FileEnv* FileEnv::Default() {
  static FileEnv* const env = new PosixEnv;
  return env;
}

}  // namespace dw

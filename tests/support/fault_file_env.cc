#include "tests/support/fault_file_env.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace dw::testing {

class FaultFileEnv::FaultFile : public FileEnv::File {
 public:
  FaultFile(FaultFileEnv* env, std::string path, std::unique_ptr<File> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}

  Status ReadAll(std::string* out) override { return base_->ReadAll(out); }

  Status WriteAt(std::string_view bytes, uint64_t offset) override {
    Status error;
    size_t write = bytes.size();
    {
      std::lock_guard<std::mutex> l(env_->mu_);
      ++env_->writes_;
      if (env_->fail_write_in_ == 0) {
        error = env_->write_error_;
        write = std::min(write, env_->partial_bytes_);
        env_->fail_write_in_ = -1;
      } else if (env_->fail_write_in_ > 0) {
        --env_->fail_write_in_;
      }
    }
    Status s = base_->WriteAt(bytes.substr(0, write), offset);
    if (s.ok()) Grow(offset + write);
    return s.ok() ? error : s;
  }

  Status Sync() override {
    {
      std::lock_guard<std::mutex> l(env_->mu_);
      if (env_->fail_syncs_) return Status::IOError("fdatasync " + path_ + ": injected failure");
    }
    Status s = base_->Sync();
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> l(env_->mu_);
    Tracked& t = env_->files_[path_];
    t.synced = t.size;
    ++env_->syncs_;
    return s;
  }

  Status Truncate(uint64_t size) override {
    {
      std::lock_guard<std::mutex> l(env_->mu_);
      if (env_->fail_truncates_) {
        return Status::IOError("truncate " + path_ + ": injected failure");
      }
    }
    Status s = base_->Truncate(size);
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> l(env_->mu_);
    Tracked& t = env_->files_[path_];
    t.size = size;
    // A cut below the synced size is not durable until the next Sync; a
    // crash before it keeps at most what is there now.
    t.synced = std::min(t.synced, size);
    return s;
  }

 private:
  void Grow(uint64_t end) {
    std::lock_guard<std::mutex> l(env_->mu_);
    Tracked& t = env_->files_[path_];
    t.size = std::max(t.size, end);
  }

  FaultFileEnv* const env_;
  const std::string path_;
  const std::unique_ptr<File> base_;
};

void FaultFileEnv::FailWrite(Status error, size_t partial_bytes, int ok_writes) {
  std::lock_guard<std::mutex> l(mu_);
  write_error_ = std::move(error);
  partial_bytes_ = partial_bytes;
  fail_write_in_ = ok_writes;
}

void FaultFileEnv::FailTruncates(bool fail) {
  std::lock_guard<std::mutex> l(mu_);
  fail_truncates_ = fail;
}

void FaultFileEnv::FailSyncs(bool fail) {
  std::lock_guard<std::mutex> l(mu_);
  fail_syncs_ = fail;
}

Status FaultFileEnv::SimulateCrash(uint64_t keep_unsynced) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [path, t] : files_) {
    uint64_t keep = std::min(t.size, t.synced + keep_unsynced);
    std::error_code ec;
    std::filesystem::resize_file(path, keep, ec);
    if (ec) return Status::IOError("crashing " + path + ": " + ec.message());
    t.size = t.synced = keep;
  }
  return Status::OK();
}

int FaultFileEnv::writes() const {
  std::lock_guard<std::mutex> l(mu_);
  return writes_;
}

int FaultFileEnv::syncs() const {
  std::lock_guard<std::mutex> l(mu_);
  return syncs_;
}

uint64_t FaultFileEnv::unsynced_bytes(const std::string& path) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.size - it->second.synced;
}

Status FaultFileEnv::Open(const std::string& path, std::unique_ptr<File>* out) {
  std::unique_ptr<File> base;
  Status s = base_->Open(path, &base);
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!files_.count(path)) {
      std::error_code ec;
      uint64_t size = std::filesystem::file_size(path, ec);
      files_[path] = Tracked{ec ? 0 : size, ec ? 0 : size};
    }
  }
  *out = std::make_unique<FaultFile>(this, path, std::move(base));
  return Status::OK();
}

Status FaultFileEnv::ReplaceAtomically(const std::string& path, std::string_view bytes) {
  Status s = base_->ReplaceAtomically(path, bytes);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  files_[path] = Tracked{bytes.size(), bytes.size()};
  return s;
}

}  // namespace dw::testing

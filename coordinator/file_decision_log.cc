#include "coordinator/file_decision_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

namespace dw::coord {
namespace {

constexpr char kCommit = 'C';
constexpr char kEnd = 'E';
constexpr char kSequence = 'S';

std::string Encode(char type, std::string_view body) {
  std::string p;
  p.reserve(1 + body.size());
  p.push_back(type);
  p.append(body);
  return p;
}

std::string EncodeU64(uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return std::string(b, 8);
}

uint64_t DecodeU64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
  return v;
}

}  // namespace

FileDecisionLog::FileDecisionLog(const Options& opts) : opts_(opts) {}

FileDecisionLog::~FileDecisionLog() {
  // Only ENDs can be pending (commits are synced before they return): a lost
  // END leaves a decision for the next recovery pass to end again.
  (void)Flush();
  file_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status FileDecisionLog::Open(const Options& opts, std::unique_ptr<FileDecisionLog>* out,
                             OpenReport* report) {
  if (opts.path.empty()) return Status::InvalidArgument("decision log: empty path");
  std::error_code ec;
  auto dir = std::filesystem::path(opts.path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("decision log: creating " + dir.string() + ": " + ec.message());

  std::unique_ptr<FileDecisionLog> log(new FileDecisionLog(opts));
  std::string lock_path = opts.path + ".lock";
  log->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (log->lock_fd_ < 0) {
    return Status::IOError("decision log: open " + lock_path + ": " + std::strerror(errno));
  }
  // A coordinator that was just killed may still hold the lock for a moment.
  auto deadline = std::chrono::steady_clock::now() + opts.lock_wait;
  while (::flock(log->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return Status::IOError("decision log: flock " + lock_path + ": " + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::FailedPrecondition(
          "decision log " + opts.path +
          " is in use by another process (a coordinator with this id is running; its own "
          "recovery loop resolves its transactions)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  FileDecisionLog* l = log.get();
  auto replay = [l](std::string_view p) -> Status {
    if (p.empty()) return Status::Corruption("decision log: empty record");
    std::string_view body = p.substr(1);
    switch (p[0]) {
      case kCommit:
        l->open_.insert(std::string(body));
        break;
      case kEnd:
        l->open_.erase(std::string(body));
        break;
      case kSequence:
        if (body.size() != 8) return Status::Corruption("decision log: bad sequence record");
        l->durable_hwm_ = std::max(l->durable_hwm_, DecodeU64(body));
        break;
      default:
        return Status::Corruption("decision log: unknown record type " +
                                  std::to_string(static_cast<unsigned char>(p[0])));
    }
    return Status::OK();
  };
  RecordFile::ReplayReport rep;
  Status s = RecordFile::Open(opts.path, replay, &log->file_, &rep);
  if (!s.ok()) return s;
  log->hwm_ = log->durable_hwm_;
  log->group_ = std::make_unique<GroupCommit>(
      [l](const std::vector<LogEntry>& b, std::vector<Status>* r) { l->FlushBatch(b, r); },
      opts.group);
  if (report) {
    report->records = rep.records;
    report->truncated_bytes = rep.truncated_bytes;
    report->open_commits = log->open_.size();
  }
  *out = std::move(log);
  return Status::OK();
}

void FileDecisionLog::FlushBatch(const std::vector<LogEntry>& batch, std::vector<Status>* results) {
  std::lock_guard<std::mutex> fl(file_mu_);
  std::string buf;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!broken_.ok()) {
      for (auto& r : *results) r = broken_;
      return;
    }
    buf.swap(pending_ends_);  // ENDs ride along with the forced write
  }
  for (const LogEntry& e : batch) {
    if (e.kind == LogEntry::Kind::kCommit) {
      RecordFile::Frame(Encode(kCommit, e.gid), &buf);
    } else {
      RecordFile::Frame(Encode(kSequence, EncodeU64(e.value)), &buf);
    }
  }
  Status s = file_->AppendFramed(buf);
  if (!s.ok()) {
    // RecordFile cut the file back: none of the batch is on disk. The
    // callers abort; the ENDs we dropped only cost recovery a second look.
    for (auto& r : *results) r = s;
    return;
  }
  s = file_->Sync();
  std::lock_guard<std::mutex> l(mu_);
  if (!s.ok()) {
    broken_ = Status::InDoubt("decision log " + opts_.path + ": fdatasync failed (" + s.message() +
                              "); what reached the disk is unknown: restart the "
                              "coordinator so that recovery replays the log");
    for (auto& r : *results) r = broken_;
    return;
  }
  ++syncs_;
  for (const LogEntry& e : batch) {
    if (e.kind == LogEntry::Kind::kCommit) {
      open_.insert(e.gid);
    } else {
      durable_hwm_ = std::max(durable_hwm_, e.value);
    }
  }
  for (auto& r : *results) r = Status::OK();
  if (file_->size() > opts_.compact_bytes) {
    Status c = MaybeCompact();
    (void)c;  // a failed compaction leaves the longer, still valid, file
  }
}

// Called by the batch leader with file_mu_ and mu_ held.
Status FileDecisionLog::MaybeCompact() {
  std::vector<std::string> payloads;
  payloads.reserve(open_.size() + 1);
  payloads.push_back(Encode(kSequence, EncodeU64(durable_hwm_)));
  for (const auto& g : open_) payloads.push_back(Encode(kCommit, g));
  // Only compact when it pays: the live records must be well under the file.
  size_t live = 0;
  for (const auto& p : payloads) live += p.size() + 8;
  if (live * 2 > file_->size()) return Status::OK();
  pending_ends_.clear();  // they end gids that are not in the snapshot
  Status s = RecordFile::Rewrite(opts_.path, payloads);
  // Reopen whatever is at the path now: the new file, or the old one if the
  // rename did not happen. Our fd may point to an unlinked inode otherwise.
  std::unique_ptr<RecordFile> f;
  Status o = RecordFile::Open(
      opts_.path, [](std::string_view) { return Status::OK(); }, &f, nullptr);
  if (!o.ok()) {
    broken_ = Status::InDoubt("decision log " + opts_.path +
                              ": reopening after compaction: " + o.ToString());
    return o;
  }
  file_ = std::move(f);
  if (s.ok()) ++compactions_;
  return s;
}

std::vector<Status> FileDecisionLog::LogCommits(const std::vector<std::string>& gids) {
  return group_->SubmitCommits(gids);
}

Status FileDecisionLog::LogCommit(const std::string& gid) {
  LogEntry e;
  e.kind = LogEntry::Kind::kCommit;
  e.gid = gid;
  return group_->Submit(std::move(e));
}

void FileDecisionLog::LogEnd(const std::string& gid) {
  std::lock_guard<std::mutex> l(mu_);
  open_.erase(gid);
  RecordFile::Frame(Encode(kEnd, gid), &pending_ends_);
}

Status FileDecisionLog::Flush() {
  std::lock_guard<std::mutex> fl(file_mu_);
  std::string buf;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!broken_.ok()) return broken_;
    buf.swap(pending_ends_);
  }
  if (buf.empty() || !file_) return Status::OK();
  return file_->AppendFramed(buf);
}

Status FileDecisionLog::Resolve(const std::string& gid, bool* committed) {
  std::lock_guard<std::mutex> l(mu_);
  // After a failed fdatasync the memory may disagree with the disk.
  if (!broken_.ok()) return broken_;
  *committed = open_.count(gid) > 0;
  return Status::OK();
}

Status FileDecisionLog::ListOpen(std::vector<std::string>* gids) {
  std::lock_guard<std::mutex> l(mu_);
  if (!broken_.ok()) return broken_;
  gids->assign(open_.begin(), open_.end());
  return Status::OK();
}

Status FileDecisionLog::ReserveSequence(uint64_t n, uint64_t* first) {
  LogEntry e;
  e.kind = LogEntry::Kind::kSequence;
  {
    std::lock_guard<std::mutex> l(mu_);
    *first = hwm_;
    hwm_ += n;
    e.value = hwm_;
  }
  return group_->Submit(std::move(e));
}

uint64_t FileDecisionLog::forced_writes() const {
  std::lock_guard<std::mutex> l(mu_);
  return syncs_;
}

uint64_t FileDecisionLog::compactions() const {
  std::lock_guard<std::mutex> l(mu_);
  return compactions_;
}

}  // namespace dw::coord

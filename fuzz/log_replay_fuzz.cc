// libFuzzer target: random, torn and corrupted broker.log files replayed the
// way the broker replays at start (broker/service.cc:
// RecordFile::Open -> DecodeRecord -> Store::Apply). They must never crash or
// hang, and must never serve a corrupt record.
//
// Input format: the first byte picks how the rest becomes a file.
//   bit 0 = 0  raw: the rest IS the file. Mostly stops at the first CRC, so it
//              covers the framing and torn-tail logic.
//   bit 0 = 1  framed: the rest is a list of payloads, each [u8 n][n bytes]
//              (n = 255: [u8 255][u16 LE n][n bytes]), framed with valid
//              CRCs - this is what reaches the record decoder and the Store's
//              consistency checks. Bits 1-2 then damage the framed file at a
//              position given by the first two bytes after the mode byte:
//              0 none, 1 truncate there (a torn write), 2 flip that byte,
//              3 append the payload bytes as garbage.
//
// Checked, beyond "no crash, no leak, no UB, no hang":
//   - replay either succeeds or fails with Corruption, nothing else;
//   - after a successful replay the file is exactly the valid prefix, and a
//     second replay of it delivers the same records and truncates nothing;
//   - every record that was applied re-encodes to a record that decodes to
//     itself, and the rebuilt Store is self-consistent (dense offsets from 0,
//     the same state after the second replay).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/log_format.h"
#include "broker/store.h"
#include "common/record_file.h"

namespace {

using dw::RecordFile;
using dw::Status;
using namespace dw::broker;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "log_replay_fuzz: invariant violated: %s\n", what.c_str());
  std::abort();
}

void Check(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

const std::string& Dir() {
  // Never destroyed: the atexit handler below runs after static destructors
  // registered later, and still needs the name.
  static const std::string& dir = *new std::string([] {
    // tmpfs when there is one: every input writes, truncates and syncs a
    // file, and a disk's fdatasync would dominate the run.
    std::string d = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    d += "/dw-fuzz-replay-XXXXXX";
    if (!mkdtemp(d.data())) Fail("mkdtemp failed");
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Dir(), ec);
    });
    return d;
  }());
  return dir;
}

std::string BuildFile(std::string_view in) {
  if (in.empty()) return {};
  const uint8_t mode = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  if ((mode & 1) == 0) return std::string(in);

  size_t pos = 0;
  if (in.size() >= 2) {
    pos = static_cast<uint8_t>(in[0]) | (static_cast<size_t>(static_cast<uint8_t>(in[1])) << 8);
    in.remove_prefix(2);
  }
  const std::string_view payloads = in;
  std::string file;
  while (!in.empty()) {
    size_t n = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (n == 255 && in.size() >= 2) {
      n = static_cast<uint8_t>(in[0]) | (static_cast<size_t>(static_cast<uint8_t>(in[1])) << 8);
      in.remove_prefix(2);
    }
    n = std::min(n, in.size());
    // A zero-length frame is never written by the broker; RecordFile treats
    // it as damage, which the raw mode covers. Skip it here.
    if (n > 0) RecordFile::Frame(in.substr(0, n), &file);
    in.remove_prefix(n);
  }
  switch ((mode >> 1) & 3) {
    case 1:
      file.resize(std::min(pos, file.size()));
      break;
    case 2:
      if (!file.empty()) file[pos % file.size()] ^= static_cast<char>(1 + (mode >> 3));
      break;
    case 3:
      file.append(payloads);
      break;
  }
  return file;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Fail("cannot create " + path);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) Fail("cannot write " + path);
    done += n;
  }
  ::close(fd);
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) Fail("cannot stat " + path);
  return static_cast<uint64_t>(st.st_size);
}

// The broker's replay (service.cc), also collecting the records applied.
Status Replay(const std::string& path, Store* store, std::vector<Record>* applied,
              RecordFile::ReplayReport* report) {
  std::unique_ptr<RecordFile> f;
  uint64_t index = 0;
  return RecordFile::Open(
      path,
      [&](std::string_view payload) {
        Record r;
        Status d = DecodeRecord(payload, &r);
        if (d.ok()) d = store->Apply(r);
        if (!d.ok()) {
          return Status::Corruption("record #" + std::to_string(index) + ": " + d.message());
        }
        ++index;
        applied->push_back(std::move(r));
        return Status::OK();
      },
      &f, report);
}

void CheckStore(const Store& store) {
  Store::Stats st = store.GetStats();
  for (const auto& [topic, n] : st.topic_sizes) {
    std::vector<StoredMessage> msgs;
    uint64_t next = store.Read(topic, 0, n + 1, &msgs);
    Check(msgs.size() == n && next == n, "topic " + topic + " reads back short");
    for (size_t i = 0; i < n; ++i) Check(msgs[i].offset == i, "offsets not dense in " + topic);
  }
  Check(store.ListPrepared().size() == st.prepared, "prepared count disagrees with the list");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = Dir() + "/broker.log";
  const std::string file = BuildFile(std::string_view(reinterpret_cast<const char*>(data), size));
  WriteFile(path, file);

  Store store;
  std::vector<Record> applied;
  RecordFile::ReplayReport rep;
  Status s = Replay(path, &store, &applied, &rep);
  if (!s.ok()) {
    Check(s.code() == Status::Code::kCorruption, "replay failed with " + s.ToString());
    return 0;
  }
  Check(rep.records == applied.size(), "report counts records it did not deliver");
  // A torn tail is cut off, or zeroed when preallocated zeros follow it; the
  // zeros stay as unused space.
  Check(rep.valid_bytes + rep.truncated_bytes + rep.unused_bytes == file.size() ||
            (rep.unused_bytes > 0 && rep.valid_bytes + rep.unused_bytes == file.size()),
        "report does not add up");
  Check(FileSize(path) == rep.valid_bytes + rep.unused_bytes,
        "torn tail not removed from behind the valid prefix");
  for (const Record& r : applied) {
    std::string enc;
    EncodeRecord(r, &enc);
    Record back;
    Check(DecodeRecord(enc, &back).ok() && back == r, "a replayed record does not round-trip");
  }
  CheckStore(store);

  // Replaying what is left must be a fixed point: same records, nothing torn.
  Store again;
  std::vector<Record> applied2;
  RecordFile::ReplayReport rep2;
  s = Replay(path, &again, &applied2, &rep2);
  Check(s.ok(), "second replay failed: " + s.ToString());
  Check(rep2.truncated_bytes == 0 && rep2.valid_bytes == rep.valid_bytes,
        "second replay truncated again");
  Check(applied2 == applied, "second replay delivered different records");
  Store::Stats a = store.GetStats(), b = again.GetStats();
  Check(a.records_applied == b.records_applied && a.topic_sizes == b.topic_sizes &&
            a.prepared == b.prepared && a.committed == b.committed && a.aborted == b.aborted,
        "second replay rebuilt a different state");
  return 0;
}

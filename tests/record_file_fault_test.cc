// RecordFile (the medium of the broker's log and of the file decision log)
// under injected faults: a crash that loses unsynced bytes, a write that
// fails halfway, a cut-back or a sync that fails. Through FaultFileEnv, on
// files in a temporary folder; no process is started.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/record_file.h"
#include "tests/support/fault_file_env.h"
#include "tests/support/temp_dir.h"

namespace dw {
namespace {

using testing::FaultFileEnv;

class RecordFileFaults : public ::testing::Test {
 protected:
  void SetUp() override { path_ = testing::TempDir("record-file-faults") + "/log"; }

  // Opens the file through env_, replaying into *records.
  Status Open(std::vector<std::string>* records, RecordFile::ReplayReport* rep = nullptr) {
    records->clear();
    RecordFile::ReplayReport ignored;
    return RecordFile::Open(
        path_,
        [records](std::string_view p) {
          records->emplace_back(p);
          return Status::OK();
        },
        &file_, rep ? rep : &ignored, &env_);
  }

  Status Append(const std::vector<std::string>& payloads) {
    std::string buf;
    for (const auto& p : payloads) RecordFile::Frame(p, &buf);
    return file_->AppendFramed(buf);
  }

  std::string path_;
  FaultFileEnv env_;
  std::unique_ptr<RecordFile> file_;
};

TEST_F(RecordFileFaults, SyncedRecordsSurviveACrash) {
  std::vector<std::string> got;
  ASSERT_TRUE(Open(&got).ok());
  ASSERT_TRUE(Append({"a", "b"}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  file_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_TRUE(Open(&got).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
}

TEST_F(RecordFileFaults, UnsyncedRecordsAreLostWhole) {
  std::vector<std::string> got;
  ASSERT_TRUE(Open(&got).ok());
  ASSERT_TRUE(Append({"a"}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  ASSERT_TRUE(Append({"b", "c"}).ok());
  file_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  RecordFile::ReplayReport rep;
  ASSERT_TRUE(Open(&got, &rep).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a"}));
  EXPECT_EQ(rep.truncated_bytes, 0u);
}

TEST_F(RecordFileFaults, TornTailAfterACrashIsDroppedAndReported) {
  std::vector<std::string> got;
  ASSERT_TRUE(Open(&got).ok());
  ASSERT_TRUE(Append({"a"}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  const uint64_t synced = file_->size();
  ASSERT_TRUE(Append({"bbbbbbbbbbbbbbbb"}).ok());
  file_.reset();
  // 11 of the unsynced frame's 24 bytes reached the disk: its header and part of the payload.
  ASSERT_TRUE(env_.SimulateCrash(11).ok());
  RecordFile::ReplayReport rep;
  ASSERT_TRUE(Open(&got, &rep).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a"}));
  EXPECT_EQ(rep.truncated_bytes, 11u);
  EXPECT_EQ(rep.valid_bytes, synced);
  // The tail is gone for good: appends continue right after "a".
  ASSERT_TRUE(Append({"c"}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  file_.reset();
  ASSERT_TRUE(Open(&got, &rep).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(rep.truncated_bytes, 0u);
}

TEST_F(RecordFileFaults, FailedWriteIsReportedAndNothingOfItReplays) {
  std::vector<std::string> got;
  ASSERT_TRUE(Open(&got).ok());
  ASSERT_TRUE(Append({"a"}).ok());
  const uint64_t before = file_->size();
  // Half of a two-record batch reaches the file (the first record whole),
  // then the write fails.
  env_.FailWrite(Status::IOError("write: injected"), /*partial_bytes=*/12);
  Status s = Append({"bbbb", "cccc"});
  EXPECT_TRUE(s.code() == Status::Code::kIOError) << s.ToString();
  EXPECT_EQ(file_->size(), before);
  ASSERT_TRUE(file_->Sync().ok());
  file_.reset();
  RecordFile::ReplayReport rep;
  ASSERT_TRUE(Open(&got, &rep).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a"}));
  EXPECT_EQ(rep.truncated_bytes, 0u) << "the failed append was cut back at once";
}

TEST_F(RecordFileFaults, FullDiskIsNoSpace) {
  std::vector<std::string> got;
  ASSERT_TRUE(Open(&got).ok());
  env_.FailWrite(Status::NoSpace("write: injected ENOSPC"), /*partial_bytes=*/3);
  Status s = Append({"a"});
  EXPECT_TRUE(s.code() == Status::Code::kNoSpace) << s.ToString();
  EXPECT_EQ(file_->size(), 0u);
  // The next append goes where the failed one would have.
  ASSERT_TRUE(Append({"b"}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  file_.reset();
  ASSERT_TRUE(Open(&got).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"b"}));
}

TEST_F(RecordFileFaults, PartialFrameLeftByAFailedCutBackIsATornTail) {
  std::vector<std::string> got;
  ASSERT_TRUE(Open(&got).ok());
  ASSERT_TRUE(Append({"a"}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  env_.FailWrite(Status::IOError("write: injected"), /*partial_bytes=*/6);
  env_.FailTruncates(true);
  EXPECT_FALSE(Append({"bbbbbbbb"}).ok());
  env_.FailTruncates(false);
  ASSERT_TRUE(file_->Sync().ok());  // the 6 bytes are durable, as after a real short write
  file_.reset();
  RecordFile::ReplayReport rep;
  ASSERT_TRUE(Open(&got, &rep).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a"}));
  EXPECT_EQ(rep.truncated_bytes, 6u);
}

TEST_F(RecordFileFaults, FailedSyncIsReportedAndNotCounted) {
  std::vector<std::string> got;
  ASSERT_TRUE(Open(&got).ok());
  ASSERT_TRUE(Append({"a"}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  ASSERT_TRUE(Append({"b"}).ok());
  env_.FailSyncs(true);
  EXPECT_FALSE(file_->Sync().ok());
  EXPECT_EQ(file_->syncs(), 1u);
  EXPECT_GT(env_.unsynced_bytes(path_), 0u);
  file_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  env_.FailSyncs(false);
  ASSERT_TRUE(Open(&got).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a"})) << "what no sync covered is not durable";
}

TEST_F(RecordFileFaults, RewriteIsDurableAtOnce) {
  std::vector<std::string> got;
  ASSERT_TRUE(Open(&got).ok());
  ASSERT_TRUE(Append({"a", "b", "c"}).ok());
  file_.reset();
  ASSERT_TRUE(RecordFile::Rewrite(path_, {"c"}, &env_).ok());
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_TRUE(Open(&got).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"c"}));
}

}  // namespace
}  // namespace dw

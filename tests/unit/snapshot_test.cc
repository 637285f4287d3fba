// SPDX-License-Identifier: MIT
//
// Whole-store copies: hot backup while writers run, and the snapshot stream
// a follower bootstraps from, including what a cut or damaged stream does.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mehdb/store.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::OpenOrDie;
using testing::TempDir;


std::map<std::string, std::string> Contents(const Store& store) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(store.ForEach({}, [&](std::string_view k, std::string_view v, Seq) {
                      out.emplace(k, v);
                      return true;
                    }).ok());
  return out;
}

// Keys written by the writer thread: "w<seq-ish counter>" holding the
// counter, so a consistent copy at seq S holds exactly keys w1..w(S-base).
TEST(Backup, ConsistentWhileWriting) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("live"));
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(store->Put("seed" + std::to_string(i), "x").ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 1; !stop; ++i) ASSERT_TRUE(store->Put("w" + std::to_string(i), std::to_string(i)).ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(store->Backup(dir.Sub("copy")).ok());
  int fd = ::open(dir.Sub("stream.mdb").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(store->BackupToFd(fd).ok());
  ::close(fd);
  stop = true;
  writer.join();

  auto copy = OpenOrDie(dir.Sub("copy"));
  EXPECT_EQ(copy->History(), store->History());
  const Seq at = copy->LastSeq();
  // The copy holds exactly the writes up to its seq.
  const std::uint64_t writes = at - 2000;
  EXPECT_EQ(*copy->Count(), 2000 + writes);
  if (writes > 0) {
    EXPECT_EQ((*copy->Get("w" + std::to_string(writes)))->data, std::to_string(writes));
  }
  EXPECT_FALSE(copy->Get("w" + std::to_string(writes + 1))->has_value());

  std::filesystem::create_directory(dir.Sub("fromfd"));
  std::filesystem::rename(dir.Sub("stream.mdb"), dir.Sub("fromfd/data.mdb"));
  auto from_fd = OpenOrDie(dir.Sub("fromfd"));
  EXPECT_EQ(*from_fd->Count(), 2000 + (from_fd->LastSeq() - 2000));

  std::filesystem::create_directory(dir.Sub("full"));
  std::ofstream(dir.Sub("full/x")) << "x";
  EXPECT_EQ(store->Backup(dir.Sub("full")).code(), Code::kFailedPrecondition);
}

std::string Export(const Store& store, std::size_t chunk = 4096) {
  std::string out;
  EXPECT_TRUE(store.ExportSnapshot([&](std::string_view c) { out.append(c); return true; }, chunk).ok());
  return out;
}

TEST(Snapshot, LoadsIntoAFreshStoreAndResumesTheLog) {
  TempDir dir;
  auto leader = OpenOrDie(dir.Sub("leader"));
  for (int i = 0; i < 3000; ++i)
    ASSERT_TRUE(leader->Put("k" + std::to_string(i), std::string(i % 300, 'a' + i % 26)).ok());
  ASSERT_TRUE(leader->Erase("k7").ok());
  const std::string stream = Export(*leader);

  auto follower = OpenOrDie(dir.Sub("follower"));
  auto loader = SnapshotLoader::Begin(*follower);
  ASSERT_TRUE(loader.ok());
  // Feed in awkward pieces to exercise frame reassembly.
  for (std::size_t i = 0; i < stream.size(); i += 777)
    ASSERT_TRUE((*loader)->Feed(std::string_view(stream).substr(i, 777)).ok());
  auto header = (*loader)->Finish();
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->seq, leader->LastSeq());
  EXPECT_EQ(follower->LastSeq(), leader->LastSeq());
  EXPECT_EQ(follower->History(), leader->History());
  EXPECT_EQ(Contents(*follower), Contents(*leader));
  EXPECT_EQ((*follower->Get("k5"))->version, (*leader->Get("k5"))->version);

  // The follower continues from the snapshot's seq with the leader's log.
  ASSERT_TRUE(leader->Put("after", "1").ok());
  auto chunk = leader->ReadLog(follower->LastSeq(), 1 << 20);
  auto recs = DecodeLogBatch(chunk->frames);
  ASSERT_TRUE(follower->Apply(chunk->history, *recs).ok());
  EXPECT_EQ(Contents(*follower), Contents(*leader));
}

TEST(Snapshot, EmptyStoreRoundTrips) {
  TempDir dir;
  auto leader = OpenOrDie(dir.Sub("leader"));
  auto follower = OpenOrDie(dir.Sub("follower"));
  auto loader = SnapshotLoader::Begin(*follower);
  ASSERT_TRUE((*loader)->Feed(Export(*leader)).ok());
  ASSERT_TRUE((*loader)->Finish().ok());
  EXPECT_EQ(follower->History(), leader->History());
}

TEST(Snapshot, RefusesNonEmptyTargets) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store->Put("k", "v").ok());
  EXPECT_EQ(SnapshotLoader::Begin(*store).status().code(), Code::kFailedPrecondition);
}

TEST(Snapshot, CutOrDamagedStreamIsRejectedAndTheStoreMarkedIncomplete) {
  TempDir dir;
  auto leader = OpenOrDie(dir.Sub("leader"));
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(leader->Put("k" + std::to_string(i), "value").ok());
  const std::string stream = Export(*leader, 1024);

  {  // cut in the middle
    auto f = OpenOrDie(dir.Sub("cut"));
    auto loader = SnapshotLoader::Begin(*f);
    ASSERT_TRUE((*loader)->Feed(stream.substr(0, stream.size() / 2)).ok());
    EXPECT_EQ((*loader)->Finish().status().code(), Code::kDataLoss);
  }
  auto reopened = Store::Open(dir.Sub("cut"));
  EXPECT_EQ(reopened.status().code(), Code::kDataLoss) << reopened.status().ToString();

  for (std::size_t pos : {std::size_t{3}, std::size_t{20}, stream.size() / 2, stream.size() - 3}) {
    std::string damaged = stream;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x11);
    TempDir d2;
    auto f = OpenOrDie(d2.path());
    auto loader = SnapshotLoader::Begin(*f);
    Status fed = (*loader)->Feed(damaged);
    Status done = fed.ok() ? (*loader)->Finish().status() : fed;
    EXPECT_EQ(done.code(), Code::kDataLoss) << "flip at " << pos << ": " << done.ToString();
  }
  {  // trailing garbage after a complete stream
    TempDir d3;
    auto f = OpenOrDie(d3.path());
    auto loader = SnapshotLoader::Begin(*f);
    Status fed = (*loader)->Feed(stream + "xx");
    EXPECT_TRUE(!fed.ok() || !(*loader)->Finish().ok());
  }
  {  // not a snapshot at all
    TempDir d4;
    auto f = OpenOrDie(d4.path());
    auto loader = SnapshotLoader::Begin(*f);
    EXPECT_EQ((*loader)->Feed("this is not a snapshot").code(), Code::kDataLoss);
  }
}

TEST(Snapshot, ExportCanBeCancelled) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(store->Put("k" + std::to_string(i), std::string(100, 'v')).ok());
  Status s = store->ExportSnapshot([](std::string_view) { return false; }, 512);
  EXPECT_EQ(s.code(), Code::kAborted);
}

}  // namespace
}  // namespace mehdb

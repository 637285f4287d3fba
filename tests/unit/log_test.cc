// SPDX-License-Identifier: MIT
//
// The change log: sequencing, retention, history ids, the record codec and
// the follower-side apply.
#include <gtest/gtest.h>
#include <mehdb/store.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "lmdb_damage.h"
#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::OpenOrDie;
using testing::TempDir;


std::vector<LogRecord> ReadAll(Store& store, Seq after) {
  auto chunk = store.ReadLog(after, 1 << 30);
  EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
  auto records = DecodeLogBatch(chunk->frames);
  EXPECT_TRUE(records.ok()) << records.status().ToString();
  return *records;
}

TEST(Log, OneSeqPerWriteWithItsOps) {
  TempDir dir;
  std::uint64_t clock = 1000;
  Options o;
  o.now_ns = [&] { return clock++; };
  auto store = OpenOrDie(dir.path(), o);
  ASSERT_EQ(*store->Put("a", "1"), 1u);
  Batch b;
  b.Put("b", "2").Erase("a");
  ASSERT_EQ(*store->Write(b), 2u);
  ASSERT_EQ(*store->Erase("b"), 3u);

  auto records = ReadAll(*store, 0);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].seq, 1u);
  EXPECT_EQ(records[1].seq, 2u);
  ASSERT_EQ(records[1].ops.size(), 2u);
  EXPECT_EQ(records[1].ops[0].kind, LogOp::Kind::kPut);
  EXPECT_EQ(records[1].ops[0].key, "b");
  EXPECT_EQ(records[1].ops[0].value, "2");
  EXPECT_EQ(records[1].ops[1].kind, LogOp::Kind::kErase);
  EXPECT_EQ(records[2].ops[0].kind, LogOp::Kind::kErase);
  EXPECT_LT(records[0].commit_time_ns, records[2].commit_time_ns);

  auto tail = ReadAll(*store, 2);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].seq, 3u);
  auto empty = store->ReadLog(3, 1 << 20);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->frames.empty());
  EXPECT_EQ(empty->last_seq, 3u);
  EXPECT_EQ(store->ReadLog(4, 1 << 20).status().code(), Code::kOutOfRange);
}

TEST(Log, ReadIsBoundedByBytesButNeverEmpty) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Put("k", std::string(1000, 'v')).ok());
  auto chunk = store->ReadLog(0, 2500);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->from, 1u);
  EXPECT_EQ(chunk->to, 2u);
  auto tiny = store->ReadLog(0, 1);
  EXPECT_EQ(tiny->to, 1u);  // one record even if it exceeds the budget
}

TEST(Log, RetentionTrimsByEntriesAndBytes) {
  TempDir dir;
  Options o;
  o.log_retain_entries = 10;
  {
    auto store = OpenOrDie(dir.path(), o);
    for (int i = 0; i < 25; ++i) ASSERT_TRUE(store->Put("k" + std::to_string(i), "v").ok());
    testing::WaitUntilApplied(*store);  // the applier trims the log
    auto st = store->GetStats();
    EXPECT_EQ(st->log_entries, 10u);
    EXPECT_EQ(st->first_log_seq, 16u);
    EXPECT_EQ(store->ReadLog(14, 1 << 20).status().code(), Code::kOutOfRange);
    auto ok = store->ReadLog(15, 1 << 20);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->from, 16u);
    EXPECT_EQ(ok->first_seq, 16u);
  }
  Options by_bytes;
  by_bytes.log_retain_bytes = 5000;
  auto store = OpenOrDie(dir.path(), by_bytes);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store->Put("big", std::string(1000, 'x')).ok());
  testing::WaitUntilApplied(*store);
  auto st = store->GetStats();
  EXPECT_LE(st->log_bytes, 5000u);
  EXPECT_GE(st->log_entries, 1u);
  EXPECT_EQ(st->first_log_seq, st->last_seq - st->log_entries + 1);
}

// The log followers read is the write-ahead log's: records the applier
// committed long ago are served from its segment files, the same bytes
// before and after a reopen.
TEST(Log, AppliedRecordsAreServedFromTheLogFilesAcrossAReopen) {
  TempDir dir;
  std::string before;
  {
    auto store = OpenOrDie(dir.path());
    for (int i = 0; i < 300; ++i)
      ASSERT_TRUE(store->Put("k" + std::to_string(i % 40), std::string(100 + i, 'v')).ok());
    testing::WaitUntilApplied(*store);
    ASSERT_EQ(store->GetStats()->unapplied_bytes, 0u);
    auto chunk = store->ReadLog(0, 1 << 30);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    EXPECT_EQ(chunk->to, 300u);
    before = chunk->frames;
    // Bounded reads split where the budget ends and go on from there.
    std::string pieced;
    for (Seq at = 0; at < 300;) {
      auto part = store->ReadLog(at, 4000);
      ASSERT_TRUE(part.ok()) << part.status().ToString();
      ASSERT_GT(part->to, at);
      pieced += part->frames;
      at = part->to;
    }
    EXPECT_EQ(pieced, before);
  }
  auto store = OpenOrDie(dir.path());
  auto st = store->GetStats();
  EXPECT_EQ(st->first_log_seq, 1u);
  EXPECT_EQ(st->log_entries, 300u);
  auto after = store->ReadLog(0, 1 << 30);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->frames, before);
  // Writes after the reopen continue the same log.
  ASSERT_EQ(*store->Put("next", "v"), 301u);
  testing::WaitUntilApplied(*store);
  auto tail = ReadAll(*store, 299);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[1].ops[0].key, "next");
}

// Segment files go once their records are trimmed and applied: the files
// hold little more than the retained records, however long writes go on.
TEST(Log, SegmentFilesFollowTheRetentionBounds) {
  TempDir dir;
  Options o;
  o.log_retain_entries = 1024;
  auto store = OpenOrDie(dir.path(), o);
  const std::string value(100, 'x');
  // Segment files; each index file beside them must have its segment.
  auto wal_files = [&] {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/wal")) {
      std::filesystem::path p = e.path();
      if (p.extension() == ".log") ++n;
      if (p.extension() == ".idx") {
        EXPECT_TRUE(std::filesystem::exists(p.replace_extension(".log"))) << p;
      }
    }
    return n;
  };
  std::size_t most_files = 0;
  for (int round = 0; round < 8; ++round) {
    for (int i = 0; i < 1024; ++i) ASSERT_TRUE(store->Put("k" + std::to_string(i), value).ok());
    ASSERT_TRUE(store->Flush().ok());
    auto st = store->GetStats();
    EXPECT_EQ(st->log_entries, 1024u);
    most_files = std::max(most_files, wal_files());
    // An eighth of the bound per segment (128 records): the retained
    // records span at most nine, and the current one may be new.
    EXPECT_LE(wal_files(), 10u) << "round " << round;
    EXPECT_GE(st->log_bytes, 1024 * value.size());
    EXPECT_LE(st->log_bytes, 1024 * (value.size() + 64));
    // Segments after the first are preallocated to about what one holds
    // (128 records of ~150 bytes, plus a quarter, in 64 KiB steps).
    if (round > 0) {
      EXPECT_LE(st->wal_bytes, 10u * (64 << 10)) << "round " << round;
    }
  }
  EXPECT_GE(most_files, 8u) << "the log was never cut into segments";
  EXPECT_EQ(ReadAll(*store, store->LastSeq() - 1024).size(), 1024u);
}

// A retained record whose bytes changed on disk is kDataLoss for the
// reader, never a record with other contents (the segment's per-record
// checksum is checked on every read, not only at open).
TEST(Log, ADamagedRetainedRecordIsDataLoss) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store->Put("key" + std::to_string(i), "value number " + std::to_string(i)).ok());
  testing::WaitUntilApplied(*store);
  std::string segment;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/wal"))
    segment = e.path().string();
  const std::string bytes = testing::ReadAll(segment);
  const std::size_t at = bytes.find("value number 7");
  ASSERT_NE(at, std::string::npos);
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at + 13));
    f.put('9');
  }
  auto early = store->ReadLog(0, 100);  // records 1.. within the budget
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_LT(early->to, 8u);
  auto damaged = store->ReadLog(7, 1 << 20);
  ASSERT_EQ(damaged.status().code(), Code::kDataLoss) << damaged.status().ToString();
  EXPECT_NE(damaged.status().message().find(segment), std::string::npos)
      << damaged.status().ToString();
  EXPECT_EQ(ReadAll(*store, 8).size(), 12u);  // the records after it still read
}

// A segment left for the next one gets an index file, and a reopen takes
// the segment's record offsets from it instead of walking the records: a
// damaged length field in an applied record then costs that record alone
// (kDataLoss when read), where a walk stops at it and drops every record of
// the segment after it. An index that fails its checksum is not used.
TEST(Log, ASegmentsIndexFileSparesTheWalkAtReopen) {
  TempDir dir;
  Options o;
  o.log_retain_entries = 1024;  // segments of 128 records
  const std::string wal = dir.path() + "/wal";
  const std::string first = wal + "/00000000000000000001.log";
  const std::string first_index = wal + "/00000000000000000001.idx";
  {
    auto store = OpenOrDie(dir.path(), o);
    for (int i = 0; i < 600; ++i)
      ASSERT_TRUE(store->Put("k" + std::to_string(i), std::string(100, 'x')).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  std::size_t indexes = 0;
  for (const auto& e : std::filesystem::directory_iterator(wal))
    if (e.path().extension() == ".idx") ++indexes;
  EXPECT_GE(indexes, 3u);
  ASSERT_TRUE(std::filesystem::exists(first_index));
  // Record 11's length field (the 11th of the first segment) set to an
  // impossible size: a walk cannot step past it.
  {
    const std::string bytes = testing::ReadAll(first);
    std::size_t at = 64;  // after the segment header
    for (int i = 0; i < 10; ++i) {
      ASSERT_LE(at + 4, bytes.size());
      std::uint32_t len = 0;  // big-endian, like every integer in the log
      for (int b = 0; b < 4; ++b)
        len = len << 8 | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(b)]);
      at += 8 + len;
    }
    ASSERT_LE(at + 4, bytes.size());
    std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.write("\xff\xff\xff\x7f", 4);
  }
  {
    auto store = OpenOrDie(dir.path(), o);
    auto after = store->ReadLog(11, 1 << 20);  // records 12..
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(after->from, 12u);
    auto damaged = store->ReadLog(10, 1 << 20);
    EXPECT_EQ(damaged.status().code(), Code::kDataLoss) << damaged.status().ToString();
    auto early = store->ReadLog(0, 1);  // one record: the first
    ASSERT_TRUE(early.ok()) << early.status().ToString();
    EXPECT_EQ(early->to, 1u);
    // The segment that was current at the close is left for a new one at
    // the next append: it gets its index at the reopen.
    EXPECT_TRUE(std::filesystem::exists(wal + "/00000000000000000513.idx"));
  }
  // The same store with two of the index's record sizes changed, one up
  // and one down (so where the last record ends still holds): only its
  // checksum fails, Load walks the segment, and the walk ends at the
  // damaged record.
  {
    std::fstream f(first_index, std::ios::in | std::ios::out | std::ios::binary);
    // Header 36 bytes, then big-endian u32 sizes: the low bytes of the
    // 21st and 22nd.
    for (const auto& [at, delta] : {std::pair{36 + 4 * 20 + 3, 1}, std::pair{36 + 4 * 21 + 3, -1}}) {
      f.seekg(at);
      const int c = f.get();
      f.seekp(at);
      f.put(static_cast<char>(c + delta));
    }
  }
  auto store = OpenOrDie(dir.path(), o);
  auto after = store->ReadLog(11, 1 << 20);
  EXPECT_EQ(after.status().code(), Code::kOutOfRange) << after.status().ToString();
  EXPECT_EQ(ReadAll(*store, store->LastSeq() - 100).size(), 100u);
}

// Runs `during` while a snapshot export is paused in the middle of its
// stream, then lets the export finish.
void DuringSnapshot(Store& store, const std::function<void()>& during) {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, resume = false;
  std::thread exporter([&] {
    Status s = store.ExportSnapshot([&](std::string_view) {
      std::unique_lock lock(mu);
      started = true;
      cv.notify_all();
      cv.wait(lock, [&] { return resume; });
      return true;
    }, /*chunk_bytes=*/1);
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return started; });
  }
  during();
  {
    std::lock_guard lock(mu);
    resume = true;
  }
  cv.notify_all();
  exporter.join();
}

void WriteDuringSnapshot(Store& store, int n) {
  DuringSnapshot(store, [&] {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(store.Put("during" + std::to_string(i), "v").ok());
  });
}

// The applier commits thousands of records at once; the trim in that commit
// must keep up with all of them (a trim capped at a fixed count let the log
// grow by each batch's excess, far past its bound).
TEST(Log, RetentionHoldsWhenOneApplyCommitsThousandsOfRecords) {
  TempDir dir;
  Options o;
  o.log_retain_entries = 100;
  o.apply_delay = std::chrono::hours(1);  // one batch, applied by Flush
  auto store = OpenOrDie(dir.path(), o);
  ASSERT_TRUE(store);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3000; ++i) ASSERT_TRUE(store->Put("k" + std::to_string(i), "v").ok());
    ASSERT_TRUE(store->Flush().ok());
    auto st = store->GetStats();
    EXPECT_EQ(st->log_entries, 100u) << "round " << round;
    EXPECT_EQ(st->first_log_seq, st->last_seq - 99);
  }
}

TEST(Log, SnapshotHoldsTheLogAfterItsSeqForTheGraceTime) {
  TempDir dir;
  Options o;
  o.log_retain_entries = 10;
  o.snapshot_log_grace = std::chrono::hours(1);
  auto store = OpenOrDie(dir.Sub("held"), o);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->Put("k" + std::to_string(i), "v").ok());
  WriteDuringSnapshot(*store, 30);  // snapshot at seq 5; the log grows to 35
  testing::WaitUntilApplied(*store);
  auto st = store->GetStats();
  EXPECT_EQ(st->first_log_seq, 6u) << "records after the snapshot's seq were trimmed";
  EXPECT_EQ(st->log_entries, 30u) << "records at or below the snapshot's seq were kept";
  // Within the grace time after the stream ended the hold stands, so the
  // snapshot's receiver can still resume at seq 6.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->Put("after" + std::to_string(i), "v").ok());
  testing::WaitUntilApplied(*store);
  EXPECT_EQ(store->GetStats()->first_log_seq, 6u);
  EXPECT_TRUE(store->ReadLog(5, 1 << 20).ok());

  // Without grace the hold ends with the stream, and retention applies again.
  Options no_grace = o;
  no_grace.snapshot_log_grace = std::chrono::milliseconds(0);
  auto quick = OpenOrDie(dir.Sub("quick"), no_grace);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(quick->Put("k" + std::to_string(i), "v").ok());
  WriteDuringSnapshot(*quick, 30);
  EXPECT_EQ(quick->GetStats()->first_log_seq, 6u);
  ASSERT_TRUE(quick->Put("next", "v").ok());
  testing::WaitUntilApplied(*quick);
  st = quick->GetStats();
  EXPECT_EQ(st->log_entries, 10u);
  EXPECT_EQ(st->first_log_seq, st->last_seq - 9);

  // The byte cap is hard: a hold never keeps the log above it.
  Options capped = o;
  capped.log_retain_bytes = 5000;
  auto small = OpenOrDie(dir.Sub("capped"), capped);
  ASSERT_TRUE(small->Put("first", "v").ok());
  DuringSnapshot(*small, [&] {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(small->Put("big", std::string(1000, 'x')).ok());
    EXPECT_LE(small->GetStats()->log_bytes, 5000u);
  });
}

// A follower polls ReadLog and then tells the leader where it is; the
// leader refuses a position past its LastSeq() ("follower ahead"). So
// ReadLog must never hand out a record LastSeq() does not cover yet, though
// a group's records are in memory (and may reach LMDB) a moment before
// LastSeq() moves past them. Writers run; a reader checks each chunk
// against LastSeq() read after it.
TEST(Log, ReadNeverGoesPastTheLastSeqPublished) {
  TempDir tmp;
  Options o;
  o.durability = Durability::kNoSync;  // many small groups: many windows
  auto store = OpenOrDie(tmp.path(), o);
  ASSERT_NE(store, nullptr);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i)
        (void)store->Put("w" + std::to_string(t) + "-" + std::to_string(i % 100), "v");
    });
  long ahead = 0, reads = 0;
  Seq after = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until) {
    auto chunk = store->ReadLog(after, 1 << 20);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    const Seq last = store->LastSeq();
    ++reads;
    if (chunk->to > last || chunk->last_seq > last) ++ahead;
    after = chunk->to;
  }
  stop = true;
  for (auto& w : writers) w.join();
  EXPECT_EQ(ahead, 0) << "of " << reads << " reads";
}

TEST(Log, HistoryIsStableAcrossReopenAndNewPerStore) {
  TempDir dir;
  HistoryId first;
  {
    auto store = OpenOrDie(dir.Sub("a"));
    first = store->History();
    ASSERT_TRUE(store->Put("k", "v").ok());
    EXPECT_EQ(store->ReadLog(0, 100)->history, first);
  }
  EXPECT_EQ(OpenOrDie(dir.Sub("a"))->History(), first);
  EXPECT_NE(OpenOrDie(dir.Sub("b"))->History(), first);
}

LogRecord Rec(Seq seq, std::vector<LogOp> ops) { return LogRecord{seq, seq * 10, std::move(ops)}; }
LogOp PutOp(std::string k, std::string v) { return {LogOp::Kind::kPut, std::move(k), std::move(v)}; }
LogOp EraseOp(std::string k) { return {LogOp::Kind::kErase, std::move(k), {}}; }

TEST(Apply, FollowerReplaysLeaderExactly) {
  TempDir dir;
  auto leader = OpenOrDie(dir.Sub("leader"));
  auto follower = OpenOrDie(dir.Sub("follower"));
  ASSERT_TRUE(leader->Put("a", "1").ok());
  ASSERT_TRUE(leader->Put("b", "2").ok());
  ASSERT_TRUE(leader->Erase("a").ok());
  auto records = ReadAll(*leader, 0);
  auto applied = follower->Apply(leader->History(), records);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied, 3u);
  EXPECT_EQ(follower->History(), leader->History());  // adopted while pristine
  EXPECT_EQ(follower->LastSeq(), 3u);
  EXPECT_FALSE(follower->Get("a")->has_value());
  EXPECT_EQ((*follower->Get("b"))->data, "2");
  EXPECT_EQ((*follower->Get("b"))->version, (*leader->Get("b"))->version);
  // The follower keeps the records too, byte for byte.
  EXPECT_EQ(follower->ReadLog(0, 1 << 20)->frames, leader->ReadLog(0, 1 << 20)->frames);
}

TEST(Apply, RefusesGapsDuplicatesAndForeignHistoryWithoutPartialWrites) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  HistoryId leader = HistoryId::Random();
  std::vector<LogRecord> first = {Rec(1, {PutOp("a", "1")}), Rec(2, {PutOp("b", "2")})};
  ASSERT_TRUE(store->Apply(leader, first).ok());

  std::vector<LogRecord> gap = {Rec(4, {PutOp("c", "3")})};
  EXPECT_EQ(store->Apply(leader, gap).status().code(), Code::kFailedPrecondition);
  std::vector<LogRecord> dup = {Rec(2, {PutOp("b", "dup")}), Rec(3, {PutOp("c", "3")})};
  EXPECT_EQ(store->Apply(leader, dup).status().code(), Code::kFailedPrecondition);
  std::vector<LogRecord> holes = {Rec(3, {PutOp("c", "3")}), Rec(5, {PutOp("d", "4")})};
  EXPECT_EQ(store->Apply(leader, holes).status().code(), Code::kInvalidArgument);
  std::vector<LogRecord> next = {Rec(3, {PutOp("c", "3")})};
  EXPECT_EQ(store->Apply(HistoryId::Random(), next).status().code(), Code::kFailedPrecondition);
  std::vector<LogRecord> bad_key = {Rec(3, {PutOp("", "3")})};
  EXPECT_EQ(store->Apply(leader, bad_key).status().code(), Code::kInvalidArgument);

  EXPECT_EQ(store->LastSeq(), 2u);
  EXPECT_EQ((*store->Get("b"))->data, "2");
  EXPECT_FALSE(store->Get("c")->has_value());
  EXPECT_FALSE(store->Get("d")->has_value());

  std::vector<LogRecord> good = {Rec(3, {PutOp("c", "3"), EraseOp("a")})};
  ASSERT_TRUE(store->Apply(leader, good).ok());
  EXPECT_FALSE(store->Get("a")->has_value());
  EXPECT_EQ(store->LastSeq(), 3u);
}

TEST(Apply, AppliedSeqAndHistorySurviveReopen) {
  TempDir dir;
  HistoryId leader = HistoryId::Random();
  {
    auto store = OpenOrDie(dir.path());
    std::vector<LogRecord> recs = {Rec(1, {PutOp("a", "1")})};
    ASSERT_TRUE(store->Apply(leader, recs).ok());
  }
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(store->History(), leader);
  EXPECT_EQ(store->LastSeq(), 1u);
}

TEST(Codec, RejectsCorruptionCutsAndGaps) {
  std::string batch;
  EncodeLogRecord(Rec(7, {PutOp("k", "v")}), batch);
  EncodeLogRecord(Rec(8, {EraseOp("k")}), batch);
  auto ok = DecodeLogBatch(batch);
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[1].ops[0].kind, LogOp::Kind::kErase);

  std::string first;
  EncodeLogRecord(Rec(7, {PutOp("k", "v")}), first);
  for (std::size_t cut = 1; cut < batch.size(); ++cut) {
    // A cut on a frame boundary is a shorter valid batch; the transport's
    // length (what the leader said it sent) catches that one.
    if (cut == first.size()) {
      EXPECT_EQ(DecodeLogBatch(batch.substr(0, cut))->size(), 1u);
      continue;
    }
    EXPECT_FALSE(DecodeLogBatch(batch.substr(0, cut)).ok()) << "cut at " << cut;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::string flipped = batch;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x40);
    EXPECT_FALSE(DecodeLogBatch(flipped).ok()) << "flip at " << i;
  }
  std::string gap;
  EncodeLogRecord(Rec(1, {PutOp("k", "v")}), gap);
  EncodeLogRecord(Rec(3, {PutOp("k", "v")}), gap);
  EXPECT_EQ(DecodeLogBatch(gap).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(DecodeLogBatch("garbage!").status().code(), Code::kDataLoss);
  EXPECT_TRUE(DecodeLogBatch("").ok());
  // A well-framed record whose erase carries a value (our encoder never
  // writes one) is refused, not applied as an erase.
  std::string forged;
  EncodeLogRecord(Rec(9, {LogOp{LogOp::Kind::kErase, "k", "value"}}), forged);
  auto refused = DecodeLogBatch(forged);
  EXPECT_EQ(refused.status().code(), Code::kDataLoss);
  EXPECT_NE(refused.status().message().find("erase op carries a value"), std::string::npos);
}

}  // namespace
}  // namespace mehdb

// SPDX-License-Identifier: MIT
//
// The write-ahead log and its applier, through the public API. To hold the
// applier back deterministically, a child process takes LMDB's writer lock
// on the store's environment (LMDB's lock is shared between processes; the
// store's own directory lock is not involved): acknowledged writes then stay
// in the log and the in-memory pending index until the child lets go.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <mehdb/store.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "lmdb_damage.h"
#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

// Holds LMDB's writer lock on the store in `dir` from a child process until
// Release (or destruction).
class ApplierBlocker {
 public:
  explicit ApplierBlocker(const std::string& dir) {
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(ready[0]);
      close(go[1]);
      MDB_env* env = nullptr;
      MDB_txn* txn = nullptr;
      char c = 1;
      if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 4) != 0 ||
          mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0640) != 0 ||
          mdb_txn_begin(env, nullptr, 0, &txn) != 0 || write(ready[1], &c, 1) != 1)
        _exit(1);
      (void)!read(go[0], &c, 1);  // until the parent closes its end
      mdb_txn_abort(txn);
      mdb_env_close(env);
      _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    go_ = go[1];
    char c = 0;
    held_ = read(ready[0], &c, 1) == 1;
    close(ready[0]);
  }
  ~ApplierBlocker() { Release(); }
  bool held() const { return held_; }
  void Release() {
    if (go_ < 0) return;
    close(go_);
    go_ = -1;
    int status = 0;
    waitpid(pid_, &status, 0);
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool held_ = false;
};

std::string Key(int i) { return "key-" + std::to_string(1000 + i); }
std::string Val(int i) { return "value of " + std::to_string(i) + std::string(100, 'v'); }

TEST(Wal, EveryReadSeesWritesTheApplierHasNotApplied) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  // Applied: k0..k9.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Put(Key(i), Val(i)).ok());
  testing::WaitUntilApplied(*store);
  const Seq applied = store->LastSeq();

  ApplierBlocker blocker(dir.path());
  ASSERT_TRUE(blocker.held());
  // Pending: overwrite k1, erase k2 and k3, add k10..k14.
  auto v1 = store->Put(Key(1), "new one");
  ASSERT_TRUE(v1.ok());
  ASSERT_TRUE(store->Erase(Key(2)).ok());
  ASSERT_TRUE(store->Erase(Key(3)).ok());
  for (int i = 10; i < 15; ++i) ASSERT_TRUE(store->Put(Key(i), Val(i)).ok());
  auto st = store->GetStats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->applied_seq, applied) << "the applier got past the blocker";
  EXPECT_EQ(st->last_seq, applied + 8);
  EXPECT_GT(st->unapplied_bytes, 0u);

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    auto g1 = store->Get(Key(1));
    ASSERT_TRUE(g1.ok() && g1->has_value());
    EXPECT_EQ((*g1)->data, "new one");
    EXPECT_EQ((*g1)->version, *v1);
    EXPECT_FALSE(store->Get(Key(2))->has_value());
    EXPECT_EQ((*store->Get(Key(12)))->data, Val(12));
    EXPECT_EQ((*store->Get(Key(0)))->data, Val(0));
    EXPECT_EQ(*store->Count(), 13u);
    // A full scan: merged, in order, erased keys hidden.
    auto all = store->Scan({});
    ASSERT_TRUE(all.ok());
    std::vector<std::string> keys;
    for (const KeyValue& kv : all->items) keys.push_back(kv.key);
    std::vector<std::string> want;
    for (int i = 0; i < 15; ++i)
      if (i != 2 && i != 3) want.push_back(Key(i));
    EXPECT_EQ(keys, want);
    EXPECT_EQ(all->items[1].value.data, "new one");
    // Pagination across the merge, and a limit that ends on a pending key.
    auto page = store->Scan({.prefix = "key-1", .start_after = Key(1), .limit = 3});
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->items.size(), 3u);
    EXPECT_EQ(page->items[0].key, Key(4));
    EXPECT_TRUE(page->more);
    auto tail = store->Scan({.prefix = "", .start_after = Key(11), .limit = 10});
    ASSERT_TRUE(tail.ok());
    ASSERT_EQ(tail->items.size(), 3u);
    EXPECT_EQ(tail->items[0].key, Key(12));
    EXPECT_FALSE(tail->more);
    // The change log, including records not yet in LMDB.
    auto chunk = store->ReadLog(applied, 1 << 20);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    EXPECT_EQ(chunk->from, applied + 1);
    EXPECT_EQ(chunk->to, store->LastSeq());
    auto records = DecodeLogBatch(chunk->frames);
    ASSERT_TRUE(records.ok());
    EXPECT_EQ(records->at(0).ops.at(0).value, "new one");
  };
  check("pending");
  // Conditions see pending versions and pending erases.
  Batch wrong;
  wrong.Expect(Key(1), *v1 - 1).Put(Key(1), "lost");
  EXPECT_EQ(store->Write(wrong).status().code(), Code::kAborted);
  Batch absent;
  absent.Expect(Key(2), Batch::kAbsent).Put(Key(2), "back");
  auto back = store->Write(absent);
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  Batch present;
  present.Expect(Key(3), Batch::kPresent).Put(Key(3), "lost");
  EXPECT_EQ(store->Write(present).status().code(), Code::kAborted);
  Batch right;
  right.Expect(Key(1), *v1).Put(Key(1), "new one");
  auto again = store->Write(right);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(store->Erase(Key(2)).ok());
  v1 = again;
  EXPECT_EQ(store->GetStats()->applied_seq, applied);

  blocker.Release();
  testing::WaitUntilApplied(*store);
  check("applied");
  // And after a reopen (from LMDB alone).
  store.reset();
  store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  check("reopened");
}

// Runs a writer in a child process: `before` puts, then (with the applier
// blocked) `after` more, then SIGKILL. Answers the number acknowledged.
int KillWithUnappliedWrites(const std::string& dir, int before, int after) {
  int opened[2], acks[2], go[2];
  if (pipe(opened) != 0 || pipe(acks) != 0 || pipe(go) != 0) return -1;
  const pid_t pid = fork();  // before this process has threads
  if (pid == 0) {
    auto store = Store::Open(dir);
    if (!store.ok()) _exit(1);
    for (int i = 0; i < before; ++i)
      if (!(*store)->Put(Key(i), Val(i)).ok()) _exit(1);
    char c = 1;
    if (write(opened[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(1);
    for (int i = before; i < before + after; ++i) {
      if (!(*store)->Put(Key(i), Val(i)).ok()) _exit(1);
      if (write(acks[1], &c, 1) != 1) _exit(1);
    }
    pause();
    _exit(0);
  }
  close(opened[1]);
  close(acks[1]);
  close(go[0]);
  char c = 0;
  int acked = -1;
  if (read(opened[0], &c, 1) == 1) {
    ApplierBlocker blocker(dir);
    acked = before;
    if (blocker.held() && write(go[1], &c, 1) == 1)
      while (acked < before + after && read(acks[0], &c, 1) == 1) ++acked;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  } else {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  close(opened[0]);
  close(acks[0]);
  close(go[1]);
  return acked;
}

// The one log segment in `dir`, and where its records end (its last
// non-zero byte + 1; preallocated space after them reads as zeros).
std::pair<std::string, std::size_t> SegmentAndEnd(const std::string& dir) {
  std::string path;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal")) path = e.path();
  const std::string bytes = testing::ReadAll(path);
  std::size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == '\0') --end;
  return {path, end};
}

TEST(Wal, AKilledWriterLosesNoAcknowledgedWrite) {
  TempDir dir;
  ASSERT_EQ(KillWithUnappliedWrites(dir.path(), 5, 40), 45);
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->Count(), 45u);
  for (int i = 0; i < 45; ++i) {
    auto got = store->Get(Key(i));
    ASSERT_TRUE(got.ok() && got->has_value()) << Key(i);
    EXPECT_EQ((*got)->data, Val(i));
  }
  auto st = store->GetStats();
  EXPECT_EQ(st->last_seq, 45u);
  EXPECT_EQ(st->applied_seq, 45u);  // replayed into LMDB at open
  EXPECT_EQ(st->log_entries, 45u);  // with their change-log records
}

TEST(Wal, ATornOrGarbageTailEndsTheReplay) {
  TempDir dir;
  ASSERT_EQ(KillWithUnappliedWrites(dir.Sub("garbage"), 0, 20), 20);
  {
    auto [path, end] = SegmentAndEnd(dir.Sub("garbage"));
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(end));
    f << "\x20\x00\x00\x00garbage that is not a record" << std::string(5000, '\xff');
  }
  auto store = OpenOrDie(dir.Sub("garbage"));
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->Count(), 20u);
  EXPECT_EQ(store->LastSeq(), 20u);
  store.reset();

  ASSERT_EQ(KillWithUnappliedWrites(dir.Sub("torn"), 0, 20), 20);
  {
    auto [path, end] = SegmentAndEnd(dir.Sub("torn"));
    std::filesystem::resize_file(path, end - 7);  // the last record cut short
  }
  store = OpenOrDie(dir.Sub("torn"));
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->Count(), 19u);
  EXPECT_EQ(store->LastSeq(), 19u);
  EXPECT_FALSE(store->Get(Key(19))->has_value());
  EXPECT_EQ((*store->Get(Key(18)))->data, Val(18));
  // The log goes on from there.
  auto next = store->Put("next", "x");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 20u);
}

// Scans longer than a Scanner batch (64 keys) with pending writes spread
// through them: overwrites, erases, and new keys before, between and after
// LMDB's, with prefixes and limits that end inside a stretch.
TEST(Wal, LongScansMergeScatteredPendingWrites) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  std::map<std::string, std::string> want;
  for (int i = 0; i < 300; i += 2) {
    ASSERT_TRUE(store->Put(Key(i), Val(i)).ok());
    want[Key(i)] = Val(i);
  }
  testing::WaitUntilApplied(*store);
  ApplierBlocker blocker(dir.path());
  ASSERT_TRUE(blocker.held());
  for (int i = -3; i < 305; i += 7) {
    const std::string k = i < 0 ? "a" + std::to_string(i) : Key(i);
    if (i % 3 == 0 && want.count(k) != 0) {
      ASSERT_TRUE(store->Erase(k).ok());
      want.erase(k);
    } else {
      ASSERT_TRUE(store->Put(k, "pending " + k).ok());
      want[k] = "pending " + k;
    }
  }
  ASSERT_GT(store->GetStats()->unapplied_bytes, 0u) << "the applier got past the blocker";
  for (const std::string prefix : {"", "key-1", "key-11", "a"}) {
    for (std::size_t limit : {0, 1, 63, 64, 65, 100}) {
      SCOPED_TRACE("prefix '" + prefix + "' limit " + std::to_string(limit));
      std::vector<std::pair<std::string, std::string>> expected;
      for (auto it = want.lower_bound(prefix); it != want.end() && it->first.starts_with(prefix);
           ++it) {
        if (limit != 0 && expected.size() == limit) break;
        expected.emplace_back(it->first, it->second);
      }
      std::vector<std::pair<std::string, std::string>> got;
      ScanOptions o;
      o.prefix = prefix;
      o.limit = limit;
      ASSERT_TRUE(store->ForEach(o, [&](std::string_view k, std::string_view v, Seq) {
        got.emplace_back(std::string(k), std::string(v));
        return true;
      }).ok());
      EXPECT_EQ(got, expected);
    }
  }
}

TEST(Wal, StaleRecordsOfAnotherSegmentNeverReplay) {
  TempDir dir;
  // "old": a log segment 1 holding records 1..3.
  ASSERT_EQ(KillWithUnappliedWrites(dir.Sub("old"), 0, 3), 3);
  // "new": a segment 1 holding record 1 alone, the same bytes long as the
  // old one's record 1.
  {
    auto fresh = OpenOrDie(dir.Sub("new"));
    ASSERT_TRUE(fresh);
    ASSERT_EQ(*fresh->Put(Key(0), Val(0)), 1u);
  }
  // Leave the old records 2 and 3 after it in the new segment's
  // (preallocated) body, as a reused block could: right seqs and framing,
  // but another segment's salt.
  const auto [old_path, old_end] = SegmentAndEnd(dir.Sub("old"));
  const auto [new_path, new_end] = SegmentAndEnd(dir.Sub("new"));
  ASSERT_EQ(std::filesystem::path(old_path).filename(), std::filesystem::path(new_path).filename());
  const std::string old_bytes = testing::ReadAll(old_path);
  {
    std::fstream f(new_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(new_end));
    f.write(old_bytes.data() + new_end, static_cast<std::streamsize>(old_end - new_end));
  }
  auto store = OpenOrDie(dir.Sub("new"));
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->Count(), 1u);
  EXPECT_EQ(store->LastSeq(), 1u);
  EXPECT_FALSE(store->Get(Key(1))->has_value());
  EXPECT_FALSE(store->Get(Key(2))->has_value());
  // Nor are they served to a follower.
  auto chunk = store->ReadLog(0, 1 << 20);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_EQ(chunk->to, 1u);
}

TEST(Wal, WritersWaitWhileTheApplierIsBehindByTheBound) {
  TempDir dir;
  Options o;
  o.max_unapplied_bytes = 64 << 10;
  auto store = OpenOrDie(dir.path(), o);
  ASSERT_TRUE(store);
  ApplierBlocker blocker(dir.path());
  ASSERT_TRUE(blocker.held());
  std::atomic<int> acked{0};
  std::thread writer([&] {
    for (int i = 0; i < 100; ++i)
      if (store->Put(Key(i), std::string(4096, 'x')).ok()) ++acked;
  });
  // The writer stops once the unapplied records pass the bound.
  while (store->GetStats()->unapplied_bytes <= o.max_unapplied_bytes)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int stalled = acked.load();
  EXPECT_LT(stalled, 100);
  EXPECT_LE(store->GetStats()->unapplied_bytes, o.max_unapplied_bytes + 4096 + 1024);
  EXPECT_EQ(acked.load(), stalled);
  blocker.Release();
  writer.join();
  EXPECT_EQ(acked.load(), 100);
  EXPECT_EQ(*store->Count(), 100u);
}

TEST(Wal, TheApplierGathersABatchButNeverMakesAFlushOrACloseWait) {
  TempDir dir;
  Options o;
  o.apply_delay = std::chrono::hours(1);
  auto store = OpenOrDie(dir.Sub("store"), o);
  ASSERT_TRUE(store);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->Put(Key(i), Val(i)).ok());
  // Gathering: nothing applied yet, every write readable from the log's index.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(store->GetStats()->applier_commits, 0u);
  EXPECT_GT(store->GetStats()->unapplied_bytes, 0u);
  EXPECT_EQ(*store->Count(), 50u);
  EXPECT_EQ((*store->Get(Key(7)))->data, Val(7));
  // A backup waits for LMDB to hold every write: the applier starts at once
  // (with the hour-long delay honoured, this would hang until the test's
  // timeout).
  ASSERT_TRUE(store->Backup(dir.Sub("backup")).ok());
  EXPECT_GE(store->GetStats()->applier_commits, 1u);
  EXPECT_EQ(store->GetStats()->unapplied_bytes, 0u);
  // Writes after it gather again; Flush applies them at once too.
  for (int i = 50; i < 60; ++i) ASSERT_TRUE(store->Put(Key(i), Val(i)).ok());
  EXPECT_GT(store->GetStats()->unapplied_bytes, 0u);
  const auto commits = store->GetStats()->applier_commits;
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->GetStats()->unapplied_bytes, 0u);
  EXPECT_GT(store->GetStats()->applier_commits, commits);
  // And closing the store applies what waits without waiting out the delay.
  for (int i = 60; i < 80; ++i) ASSERT_TRUE(store->Put(Key(i), Val(i)).ok());
  store.reset();
  auto reopened = OpenOrDie(dir.Sub("store"), o);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened->Count(), 80u);
  EXPECT_EQ(reopened->GetStats()->unapplied_bytes, 0u);
  EXPECT_EQ((*reopened->Get(Key(79)))->data, Val(79));
  auto backup = OpenOrDie(dir.Sub("backup"));
  ASSERT_TRUE(backup);
  EXPECT_EQ(*backup->Count(), 50u);
}

// Acknowledged writes that LMDB has no room for when the store opens again
// (here a map ceiling below what they need; on a pod, a full volume) keep
// neither the store shut nor out of sight: it opens, reads see them, writes
// get the room error, and once there is room they reach LMDB.
TEST(Wal, AStoreOpensWhenItsLogHoldsWritesLmdbCannotTakeYet) {
  TempDir dir;
  const std::string big(200 << 10, 'b');
  // A writer that dies (like a SIGKILL) with its writes in the log only:
  // the applier is holding back for its hour-long delay.
  const pid_t pid = fork();
  if (pid == 0) {
    Options o;
    o.apply_delay = std::chrono::hours(1);
    auto s = Store::Open(dir.path(), o);
    if (!s.ok()) _exit(1);
    for (int i = 0; i < 20; ++i)
      if (!(*s)->Put(Key(i), big + Val(i)).ok()) _exit(2);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  Options tight;
  tight.map_bytes = 1 << 20;
  tight.max_map_bytes = 2 << 20;  // room for a few of the twenty
  {
    auto store = OpenOrDie(dir.path(), tight);
    ASSERT_TRUE(store);
    EXPECT_GT(store->GetStats()->unapplied_bytes, 0u);
    EXPECT_EQ(*store->Count(), 20u);
    for (int i = 0; i < 20; ++i) {
      auto v = store->Get(Key(i));
      ASSERT_TRUE(v.ok() && v->has_value()) << i;
      EXPECT_EQ((*v)->data, big + Val(i)) << i;
    }
    EXPECT_EQ(store->Put("more", "x").status().code(), Code::kResourceExhausted);
    EXPECT_EQ(store->Flush().code(), Code::kResourceExhausted);
  }
  auto roomy = OpenOrDie(dir.path());
  ASSERT_TRUE(roomy);
  EXPECT_EQ(roomy->GetStats()->unapplied_bytes, 0u);
  EXPECT_EQ(*roomy->Count(), 20u);
  EXPECT_EQ((*roomy->Get(Key(19)))->data, big + Val(19));
  ASSERT_TRUE(roomy->Put("more", "x").ok());
}

TEST(Wal, BackupsAndSnapshotsHoldEveryAcknowledgedWrite) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("leader"));
  ASSERT_TRUE(store);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store->Put(Key(i), Val(i)).ok());
  // At once, with the applier likely behind.
  ASSERT_TRUE(store->Backup(dir.Sub("backup")).ok());
  std::string snapshot;
  ASSERT_TRUE(store->ExportSnapshot([&](std::string_view b) {
                     snapshot.append(b);
                     return true;
                   }).ok());
  auto backup = OpenOrDie(dir.Sub("backup"));
  ASSERT_TRUE(backup);
  EXPECT_EQ(*backup->Count(), 200u);
  EXPECT_EQ(backup->LastSeq(), 200u);

  auto follower = OpenOrDie(dir.Sub("follower"));
  ASSERT_TRUE(follower);
  auto loader = SnapshotLoader::Begin(*follower);
  ASSERT_TRUE(loader.ok());
  ASSERT_TRUE((*loader)->Feed(snapshot).ok());
  ASSERT_TRUE((*loader)->Finish().ok());
  EXPECT_EQ(*follower->Count(), 200u);
  EXPECT_EQ(follower->LastSeq(), 200u);
  // The loaded store's log starts after the snapshot: writes and a reopen
  // go on from there, with nothing stale replayed.
  ASSERT_EQ(*follower->Put("after", "x"), 201u);
  follower.reset();
  follower = OpenOrDie(dir.Sub("follower"));
  ASSERT_TRUE(follower);
  EXPECT_EQ(*follower->Count(), 201u);
  EXPECT_EQ(follower->LastSeq(), 201u);
  EXPECT_EQ(follower->History(), store->History());
}

}  // namespace
}  // namespace mehdb

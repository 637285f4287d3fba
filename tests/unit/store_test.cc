// SPDX-License-Identifier: MIT
//
// Every public Store call and each error code it documents.
#include <gtest/gtest.h>
#include <mehdb/store.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>

#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::OpenOrDie;
using testing::TempDir;


TEST(Store, PutGetOverwriteErase) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  auto s1 = store->Put("a", "one");
  ASSERT_TRUE(s1.ok());
  EXPECT_EQ(*s1, 1u);
  auto v = store->Get("a");
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ((*v)->data, "one");
  EXPECT_EQ((*v)->version, 1u);

  auto s2 = store->Put("a", "two");
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(*s2, 2u);
  EXPECT_EQ((*store->Get("a"))->data, "two");
  EXPECT_EQ((*store->Get("a"))->version, 2u);

  auto s3 = store->Erase("a");
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(*s3, 3u);
  auto gone = store->Get("a");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  // Erasing a missing key is a (no-op) write, not an error.
  EXPECT_TRUE(store->Erase("never").ok());
}

TEST(Store, BinaryEmptyAndLargeValuesRoundTrip) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  std::string big(1 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>(i);
  ASSERT_TRUE(store->Put("bin", binary).ok());
  ASSERT_TRUE(store->Put("empty", "").ok());
  ASSERT_TRUE(store->Put("big", big).ok());
  EXPECT_EQ((*store->Get("bin"))->data, binary);
  EXPECT_EQ((*store->Get("empty"))->data, "");
  EXPECT_EQ((*store->Get("big"))->data, big);
}

TEST(Store, KeyLimits) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(store->Put("", "v").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store->Put(std::string(512, 'k'), "v").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store->Get("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store->Get(std::string(600, 'k')).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(store->Put(std::string(511, 'k'), "v").ok());
  EXPECT_EQ((*store->Get(std::string(511, 'k')))->data, "v");
}

TEST(Store, ValueTooLarge) {
  TempDir dir;
  Options o;
  o.max_value_bytes = 100;
  auto store = OpenOrDie(dir.path(), o);
  EXPECT_TRUE(store->Put("k", std::string(100, 'v')).ok());
  auto r = store->Put("k", std::string(101, 'v'));
  EXPECT_EQ(r.status().code(), Code::kValueTooLarge);
  EXPECT_EQ((*store->Get("k"))->data.size(), 100u);  // nothing changed
}

TEST(Store, BatchIsAtomicAndConditional) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store->Put("x", "1").ok());
  Batch ok;
  ok.Expect("x", 1).Expect("y", Batch::kAbsent).Put("y", "2").Erase("x");
  auto seq = store->Write(ok);
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_EQ(*seq, 2u);
  EXPECT_FALSE(store->Get("x")->has_value());
  EXPECT_EQ((*store->Get("y"))->version, 2u);

  Batch stale;
  stale.Expect("y", 1).Put("y", "3").Put("z", "3");
  EXPECT_EQ(store->Write(stale).status().code(), Code::kAborted);
  EXPECT_EQ((*store->Get("y"))->data, "2");
  EXPECT_FALSE(store->Get("z")->has_value());
  EXPECT_EQ(store->LastSeq(), 2u);  // a failed condition consumes no seq

  Batch present;
  present.Expect("missing", Batch::kPresent).Put("a", "b");
  EXPECT_EQ(store->Write(present).status().code(), Code::kAborted);
  Batch exists;
  exists.Expect("y", Batch::kPresent).Put("a", "b");
  EXPECT_TRUE(store->Write(exists).ok());

  EXPECT_EQ(store->Write(Batch()).status().code(), Code::kInvalidArgument);
  Batch bad;
  bad.Put("ok", "v").Put("", "v");
  EXPECT_EQ(store->Write(bad).status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(store->Get("ok")->has_value());
}

TEST(Store, ScanPrefixAfterLimit) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  for (const char* k : {"a1", "a2", "a3", "b1", "b2", "c"}) ASSERT_TRUE(store->Put(k, k).ok());
  auto all = store->Scan({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 6u);
  EXPECT_FALSE(all->more);

  auto page1 = store->Scan({.prefix = "a", .start_after = "", .limit = 2});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->items.size(), 2u);
  EXPECT_EQ(page1->items[1].key, "a2");
  EXPECT_TRUE(page1->more);
  auto page2 = store->Scan({.prefix = "a", .start_after = "a2", .limit = 2});
  ASSERT_EQ(page2->items.size(), 1u);
  EXPECT_EQ(page2->items[0].key, "a3");
  EXPECT_EQ(page2->items[0].value.data, "a3");
  EXPECT_FALSE(page2->more);

  auto b = store->Scan({.prefix = "b", .start_after = "", .limit = 0});
  ASSERT_EQ(b->items.size(), 2u);
  auto after = store->Scan({.prefix = "", .start_after = "b1", .limit = 0});
  ASSERT_EQ(after->items.size(), 2u);
  EXPECT_EQ(after->items[0].key, "b2");
  auto none = store->Scan({.prefix = "zz", .start_after = "", .limit = 0});
  EXPECT_TRUE(none->items.empty());

  int visited = 0;
  EXPECT_TRUE(store->ForEach({}, [&](std::string_view, std::string_view, Seq) {
                      return ++visited < 3;
                    }).ok());
  EXPECT_EQ(visited, 3);
}

// Scanner hands out keys in batches of up to 64; a scan that spans several
// batches, stops at a limit inside one, or is bounded by a prefix must see
// every key exactly once, in order, with its version.
TEST(Store, ScannerAcrossBatches) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  Batch load;
  for (int i = 0; i < 200; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "k%03d", i);
    load.Put(key, std::string(key) + "-v");
  }
  load.Put("m", "other prefix");
  auto seq = store->Write(load);
  ASSERT_TRUE(seq.ok());

  auto collect = [&](const ScanOptions& options, std::vector<std::size_t>* sizes) {
    std::vector<std::string> keys;
    auto scanner = store->NewScanner(options);
    EXPECT_TRUE(scanner.ok());
    for (;;) {
      auto batch = scanner->Next();
      EXPECT_TRUE(batch.ok());
      if (batch->empty()) break;
      sizes->push_back(batch->size());
      for (const ScanEntry& e : *batch) {
        EXPECT_EQ(e.value(), std::string(e.key()) + "-v");
        EXPECT_EQ(e.version(), *seq);
        keys.emplace_back(e.key());
      }
    }
    // Done stays done.
    auto again = scanner->Next();
    EXPECT_TRUE(again.ok() && again->empty());
    return keys;
  };

  std::vector<std::size_t> sizes;
  auto keys = collect({.prefix = "k", .start_after = "", .limit = 0}, &sizes);
  ASSERT_EQ(keys.size(), 200u);
  EXPECT_EQ(keys.front(), "k000");
  EXPECT_EQ(keys.back(), "k199");
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{64, 64, 64, 8}));

  sizes.clear();
  keys = collect({.prefix = "k", .start_after = "k009", .limit = 100}, &sizes);
  ASSERT_EQ(keys.size(), 100u);
  EXPECT_EQ(keys.front(), "k010");
  EXPECT_EQ(keys.back(), "k109");
  EXPECT_EQ(sizes, (std::vector<std::size_t>{64, 36}));

  sizes.clear();
  keys = collect({.prefix = "k19", .start_after = "", .limit = 0}, &sizes);
  EXPECT_EQ(keys.size(), 10u);
  EXPECT_TRUE(collect({.prefix = "z", .start_after = "", .limit = 0}, &sizes).empty());

  // ForEach stops inside a batch when the visitor says so.
  int visited = 0;
  EXPECT_TRUE(store->ForEach({}, [&](std::string_view, std::string_view, Seq) {
                      return ++visited < 70;
                    }).ok());
  EXPECT_EQ(visited, 70);
}

TEST(Store, CountAndStats) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(*store->Count(), 0u);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->Put("k" + std::to_string(i), "v").ok());
  ASSERT_TRUE(store->Erase("k0").ok());
  EXPECT_EQ(*store->Count(), 49u);
  testing::WaitUntilApplied(*store);  // the change log's stats are LMDB's
  auto st = store->GetStats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->entries, 49u);
  EXPECT_EQ(st->last_seq, 51u);
  EXPECT_EQ(st->first_log_seq, 1u);
  EXPECT_EQ(st->log_entries, 51u);
  EXPECT_GT(st->log_bytes, 0u);
  EXPECT_GT(st->disk_bytes, 0u);
  EXPECT_GT(st->used_bytes, 0u);
  EXPECT_FALSE(st->history.IsZero());
  EXPECT_EQ(st->commits, 51u);
  EXPECT_EQ(st->committed_writes, 51u);
  EXPECT_EQ(st->group_size_buckets[0], 51u);  // sequential writers: groups of 1
}

TEST(Store, ReopenKeepsDataSeqAndHistory) {
  TempDir dir;
  HistoryId hist;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(store->Put("k", "v").ok());
    hist = store->History();
  }
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(store->History(), hist);
  EXPECT_EQ(store->LastSeq(), 1u);
  EXPECT_EQ((*store->Get("k"))->data, "v");
  EXPECT_EQ(*store->Put("k2", "v"), 2u);
}

TEST(Store, OpenErrors) {
  TempDir dir;
  Options no_create;
  no_create.create_if_missing = false;
  EXPECT_EQ(Store::Open(dir.Sub("absent"), no_create).status().code(), Code::kNotFound);
  EXPECT_EQ(Store::Open(dir.path(), no_create).status().code(), Code::kNotFound);

  std::ofstream(dir.Sub("file")) << "x";
  EXPECT_EQ(Store::Open(dir.Sub("file")).status().code(), Code::kInvalidArgument);
  // A system error the store has no code of its own for (ENOTDIR while
  // creating the directory under a file) is kInternal, with the cause.
  auto under_file = Store::Open(dir.Sub("file/sub"));
  EXPECT_EQ(under_file.status().code(), Code::kInternal) << under_file.status().ToString();
  EXPECT_NE(under_file.status().ToString().find("Not a directory"), std::string::npos)
      << under_file.status().ToString();

  Options bad;
  bad.map_bytes = 1 << 20;
  bad.max_map_bytes = 1 << 10;
  EXPECT_EQ(Store::Open(dir.path(), bad).status().code(), Code::kInvalidArgument);

  // A directory holding something that is not an LMDB file.
  std::filesystem::create_directory(dir.Sub("junk"));
  std::ofstream(dir.Sub("junk/data.mdb")) << std::string(8192, 'j');
  auto junk = Store::Open(dir.Sub("junk"));
  EXPECT_EQ(junk.status().code(), Code::kDataLoss) << junk.status().ToString();
}

// Root ignores directory permissions, so as root (CI) the open runs in a
// forked child that drops to the unprivileged user nobody (65534) first;
// the child's exit code is the open's mehdb::Code.
TEST(Store, UnwritableDirectoryIsReadOnly) {
  TempDir dir;
  std::filesystem::create_directory(dir.Sub("ro"));
  if (geteuid() != 0) {
    chmod(dir.Sub("ro").c_str(), 0500);
    auto r = Store::Open(dir.Sub("ro"));
    EXPECT_EQ(r.status().code(), Code::kReadOnly) << r.status().ToString();
    chmod(dir.Sub("ro").c_str(), 0700);
    return;
  }
  chmod(dir.path().c_str(), 0755);      // nobody may reach ro/
  chmod(dir.Sub("ro").c_str(), 0555);   // but not write in it
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    constexpr uid_t kNobody = 65534;
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(100);
    if (geteuid() == 0) _exit(101);
    auto r = Store::Open(dir.Sub("ro"));
    if (!r.status().ok()) std::fprintf(stderr, "open as nobody: %s\n", r.status().ToString().c_str());
    _exit(static_cast<int>(r.status().code()));
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_LT(WEXITSTATUS(status), 100) << "the child could not drop root (" << WEXITSTATUS(status) << ")";
  EXPECT_EQ(static_cast<Code>(WEXITSTATUS(status)), Code::kReadOnly)
      << CodeName(static_cast<Code>(WEXITSTATUS(status)));
}

TEST(Store, MapGrowsUpToTheCeiling) {
  TempDir dir;
  Options o;
  o.map_bytes = 256 << 10;
  o.max_map_bytes = 4 << 20;
  o.log_retain_entries = 1;  // keep the log from holding pages
  auto store = OpenOrDie(dir.path(), o);
  std::string value(4000, 'v');
  Status last;
  int written = 0;
  for (; written < 5000; ++written) {
    auto r = store->Put("key" + std::to_string(written), value);
    if (!r.ok()) {
      last = r.status();
      break;
    }
  }
  EXPECT_EQ(last.code(), Code::kResourceExhausted) << last.ToString();
  auto st = store->GetStats();
  EXPECT_GT(st->map_growths, 0u);
  EXPECT_EQ(st->map_bytes, o.max_map_bytes);
  EXPECT_GT(written, 200);
  // Still readable and intact; erasing makes room again.
  EXPECT_EQ((*store->Get("key0"))->data, value);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->Erase("key" + std::to_string(i)).ok());
  EXPECT_TRUE(store->Put("again", "small").ok());
}

TEST(Store, WaitForSeq) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(store->WaitForSeq(1, std::chrono::milliseconds(10)), 0u);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (void)store->Put("k", "v");
  });
  EXPECT_EQ(store->WaitForSeq(1, std::chrono::seconds(30)), 1u);
  writer.join();
}

// A store being replaced ends the waits on its sequence, those in progress
// and any that start later, so its waiters turn to its successor at once.
TEST(Store, EndSeqWaitsReleasesWaitsNowAndLater) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  // Whether a wait for a seq five writes ahead (with a ten-minute timeout)
  // returns within 5 s of `before_checking`; writes release it afterwards
  // either way.
  auto wait_returns = [&](const std::function<void()>& before_checking) {
    std::atomic<bool> returned{false};
    const Seq target = store->LastSeq() + 5;
    std::thread waiter([&] {
      (void)store->WaitForSeq(target, std::chrono::minutes(10));
      returned = true;
    });
    before_checking();
    for (int i = 0; i < 500 && !returned; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const bool released = returned.load();
    while (!returned) {
      (void)store->Put("k", "v");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    waiter.join();
    return released;
  };
  EXPECT_FALSE(wait_returns([] {})) << "a wait returned before its seq";
  EXPECT_TRUE(wait_returns([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it block
    store->EndSeqWaits();
  })) << "a wait in progress went on after EndSeqWaits";
  EXPECT_TRUE(wait_returns([] {})) << "a wait begun after EndSeqWaits blocked";
}

// Many writers while the applier grows the map again and again: every
// group's room check reads the map's size while a growth may be changing
// it (a check made outside the resize gate crashed here).
TEST(Store, ConcurrentWritersWhileTheMapGrows) {
  TempDir dir;
  Options o;
  o.map_bytes = 64 << 10;
  o.apply_delay = std::chrono::milliseconds(0);  // apply (and grow) all along
  auto store = OpenOrDie(dir.path(), o);
  ASSERT_TRUE(store);
  const std::string value(1024, 'g');
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int t = 0; t < 64; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i)
        if (!store->Put("w" + std::to_string(t) + "-" + std::to_string(i), value).ok()) ++failed;
    });
  for (auto& w : writers) w.join();
  EXPECT_EQ(failed.load(), 0);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_GE(store->GetStats()->map_growths, 4u);
  EXPECT_EQ(*store->Count(), 64u * 300);
}

TEST(Store, GroupCommitSharesTransactions) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  constexpr int kThreads = 16, kEach = 40;
  std::vector<std::thread> threads;
  std::vector<std::vector<Seq>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = store->Put("t" + std::to_string(t) + "-" + std::to_string(i), "v");
        ASSERT_TRUE(r.ok());
        seqs[t].push_back(*r);
      }
    });
  for (auto& th : threads) th.join();
  std::vector<Seq> all;
  for (auto& v : seqs) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  // Every write got its own seq, 1..N without gaps.
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
  auto st = store->GetStats();
  EXPECT_EQ(st->committed_writes, std::uint64_t{kThreads * kEach});
  // 16 writers at once, each waiting for its fsync: some of them must have
  // shared a transaction (fewer commits than writes; a group of 2 or more
  // in the histogram). Writers that never share fail both.
  EXPECT_LT(st->commits, st->committed_writes);
  std::uint64_t shared_groups = 0;
  for (std::size_t b = 1; b < st->group_size_buckets.size(); ++b)
    shared_groups += st->group_size_buckets[b];
  EXPECT_GT(shared_groups, 0u);
  EXPECT_EQ(*store->Count(), std::uint64_t{kThreads * kEach});
}

TEST(Store, NoSyncDurabilityWorks) {
  TempDir dir;
  Options o;
  o.durability = Durability::kNoSync;
  {
    auto store = OpenOrDie(dir.path(), o);
    ASSERT_TRUE(store->Put("k", "v").ok());
  }
  auto store = OpenOrDie(dir.path(), o);
  EXPECT_EQ((*store->Get("k"))->data, "v");
}

TEST(StatusTest, ToStringAndNames) {
  EXPECT_EQ(Status().ToString(), "OK");
  EXPECT_EQ(Status(Code::kNoSpace, "disk").ToString(), "NoSpace: disk");
  EXPECT_EQ(CodeName(Code::kDataLoss), "DataLoss");
  Result<int> r(Status(Code::kAborted, "x"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kAborted);
  Result<int> v(3);
  EXPECT_TRUE(v.ok());
  EXPECT_TRUE(v.status().ok());
  EXPECT_EQ(*v, 3);
}

TEST(HistoryIdTest, HexRoundTrip) {
  HistoryId a = HistoryId::Random(), b = HistoryId::Random();
  EXPECT_NE(a, b);
  EXPECT_EQ(HistoryId::FromHex(a.ToHex()), a);
  EXPECT_FALSE(HistoryId::FromHex("xyz").has_value());
  EXPECT_FALSE(HistoryId::FromHex(std::string(32, 'G')).has_value());
  EXPECT_FALSE(HistoryId::FromHex(std::string(32, 'A')).has_value());  // lowercase only
}

}  // namespace
}  // namespace mehdb

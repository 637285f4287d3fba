// SPDX-License-Identifier: MIT
//
// Store::WriteAsync: writes answered through a callback by the store's
// answering thread, mixed with blocking writes in the same groups.
#include <gtest/gtest.h>
#include <mehdb/store.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"
#include "thread_names.h"

namespace mehdb {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

// Counts answers and keeps their seqs; Wait() until `n` have come.
class Answers {
 public:
  // `slow`: each answer takes this long, as a busy server's might.
  explicit Answers(std::chrono::microseconds slow = {}) : slow_(slow) {}
  Store::WriteDone Callback() {
    return [this](const Result<Seq>& r) {
      if (slow_.count() > 0) std::this_thread::sleep_for(slow_);
      std::lock_guard lock(mu_);
      if (r.ok()) seqs_.push_back(*r);
      else errors_.push_back(r.status());
      cv_.notify_all();
    };
  }
  void Wait(std::size_t n) {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(30),
                             [&] { return seqs_.size() + errors_.size() >= n; }))
        << seqs_.size() + errors_.size() << " of " << n << " answered";
  }
  std::vector<Seq> seqs() {
    std::lock_guard lock(mu_);
    return seqs_;
  }
  std::vector<Status> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  const std::chrono::microseconds slow_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seq> seqs_;
  std::vector<Status> errors_;
};

Batch PutBatch(const std::string& key, const std::string& value) {
  Batch b;
  b.Put(key, value);
  return b;
}

TEST(WriteAsync, EveryWriteIsAnsweredOnceWithItsOwnSeqAndIsReadableThen) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.path());
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4, kPerThread = 500;
  Answers answers;
  std::atomic<int> unreadable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        auto done = answers.Callback();
        // The answer comes once the write is acknowledged: a read from the
        // callback sees it.
        store->WriteAsync(PutBatch(key, "v" + key), [&, key, done](const Result<Seq>& r) {
          auto got = store->Get(key);
          if (!got.ok() || !*got || (*got)->data != "v" + key) ++unreadable;
          done(r);
        });
        // Blocking writes share the queue with them.
        if (i % 50 == 0) {
          ASSERT_TRUE(store->Put("sync" + std::to_string(t), "x").ok());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  answers.Wait(kThreads * kPerThread);
  EXPECT_TRUE(answers.errors().empty());
  EXPECT_EQ(unreadable.load(), 0);
  std::vector<Seq> seqs = answers.seqs();
  EXPECT_EQ(std::set<Seq>(seqs.begin(), seqs.end()).size(), seqs.size()) << "a seq given twice";
  auto count = store->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, std::uint64_t{kThreads * kPerThread + kThreads});
}

TEST(WriteAsync, ABatchRefusedBeforeQueueingIsAnsweredOnTheCallingThread) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.path());
  ASSERT_NE(store, nullptr);
  std::thread::id answered_on;
  Status status;
  store->WriteAsync(PutBatch("", "v"), [&](const Result<Seq>& r) {
    answered_on = std::this_thread::get_id();
    status = r.status();
  });
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_EQ(status.code(), Code::kInvalidArgument);

  // A failed condition comes back through the callback like Write's.
  Answers answers;
  Batch conditional;
  conditional.Expect("missing", Batch::kPresent).Put("missing", "v");
  store->WriteAsync(std::move(conditional), answers.Callback());
  answers.Wait(1);
  ASSERT_EQ(answers.errors().size(), 1u);
  EXPECT_EQ(answers.errors()[0].code(), Code::kAborted);
}

TEST(WriteAsync, ClosingTheStoreAnswersEveryQueuedWriteAndKeepsThem) {
  TempDir tmp;
  // Slow answers: when the store closes, most writes are committed but not
  // yet answered (the answering thread lags the committer).
  Answers answers(std::chrono::microseconds(200));
  constexpr int kWrites = 2000;
  {
    auto store = OpenOrDie(tmp.path());
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < kWrites; ++i)
      store->WriteAsync(PutBatch("k" + std::to_string(i), "v"), answers.Callback());
  }  // closed with writes still queued
  // Already answered, not waited for here: the destructor waited.
  EXPECT_EQ(answers.seqs().size(), std::size_t{kWrites});
  EXPECT_TRUE(answers.errors().empty());
  auto store = OpenOrDie(tmp.path());
  ASSERT_NE(store, nullptr);
  auto count = store->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, std::uint64_t{kWrites});
}

TEST(WriteAsync, ACallbackMayStartTheNextWrite) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.path());
  ASSERT_NE(store, nullptr);
  Answers answers;
  // A chain of 100 writes, each started from the previous one's answer.
  std::function<void(int)> next = [&](int i) {
    store->WriteAsync(PutBatch("chain", std::to_string(i)), [&, i](const Result<Seq>& r) {
      answers.Callback()(r);
      if (i + 1 < 100) next(i + 1);
    });
  };
  next(0);
  answers.Wait(100);
  auto got = store->Get("chain");
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->data, "99");
}

// The store's threads carry names (top -H, gdb, perf show them): the
// applier from Open, the committer and answerer from the first WriteAsync.
TEST(WriteAsync, TheStoresThreadsAreNamed) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.path());
  ASSERT_NE(store, nullptr);
  Answers answers;
  store->WriteAsync(PutBatch("k", "v"), answers.Callback());
  answers.Wait(1);
  auto names = testing::ThreadNames();
  for (const char* name : {"mehdb-apply", "mehdb-commit", "mehdb-answer"})
    EXPECT_EQ(names[name], 1) << name;
}

}  // namespace
}  // namespace mehdb

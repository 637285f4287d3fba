// SPDX-License-Identifier: MIT
//
// Model test: thousands of random operations run against a Store and a
// std::map side by side, closing and reopening the store along the way;
// after every step the two must agree.
#include <gtest/gtest.h>
#include <mehdb/store.h>

#include <map>
#include <random>

#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::TempDir;
using Model = std::map<std::string, std::pair<std::string, Seq>>;

class ModelRun {
 public:
  ModelRun(std::string dir, std::uint32_t seed) : dir_(std::move(dir)), rng_(seed) { Reopen(); }

  void Reopen() {
    store_.reset();
    Options o;
    o.map_bytes = 1 << 20;  // small, so growth happens during the run
    o.log_retain_entries = 300;
    auto s = Store::Open(dir_, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ASSERT_EQ(store_->LastSeq(), seq_);
  }

  std::string Key() {
    // A small key space so overwrites, erases and prefix collisions are common.
    static const char* kPrefixes[] = {"a", "ab", "b", "user/", "user/x"};
    return std::string(kPrefixes[rng_() % 5]) + std::to_string(rng_() % 40);
  }
  std::string Val() { return std::string(rng_() % 600, static_cast<char>('a' + rng_() % 26)); }

  void Step() {
    switch (rng_() % 10) {
      case 0: case 1: case 2: return Put();
      case 3: return Erase();
      case 4: return BatchOp();
      case 5: return CheckScan();
      case 6: return CheckGet();
      case 7: return CheckCount();
      case 8: return CasOp();
      default: if (rng_() % 20 == 0) Reopen(); return;
    }
  }

  void Put() {
    std::string k = Key(), v = Val();
    auto r = store_->Put(k, v);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(*r, ++seq_);
    model_[k] = {v, seq_};
  }
  void Erase() {
    std::string k = Key();
    auto r = store_->Erase(k);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(*r, ++seq_);
    model_.erase(k);
  }
  void BatchOp() {
    Batch b;
    Model next = model_;
    const Seq seq = seq_ + 1;
    for (int i = 0, n = 1 + rng_() % 6; i < n; ++i) {
      std::string k = Key();
      if (rng_() % 3 == 0) {
        b.Erase(k);
        next.erase(k);
      } else {
        std::string v = Val();
        b.Put(k, v);
        next[k] = {v, seq};
      }
    }
    auto r = store_->Write(b);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(*r, seq);
    seq_ = seq;
    model_ = std::move(next);
  }
  void CasOp() {
    std::string k = Key(), v = Val();
    auto it = model_.find(k);
    const Seq actual = it == model_.end() ? Batch::kAbsent : it->second.second;
    const bool guess_right = rng_() % 2 == 0;
    Batch b;
    b.Expect(k, guess_right ? actual : actual + 1000).Put(k, v);
    auto r = store_->Write(b);
    if (guess_right) {
      ASSERT_TRUE(r.ok());
      model_[k] = {v, ++seq_};
    } else {
      ASSERT_EQ(r.status().code(), Code::kAborted);
    }
  }
  void CheckGet() {
    std::string k = Key();
    auto r = store_->Get(k);
    ASSERT_TRUE(r.ok());
    auto it = model_.find(k);
    ASSERT_EQ(r->has_value(), it != model_.end()) << k;
    if (it != model_.end()) {
      ASSERT_EQ((*r)->data, it->second.first);
      ASSERT_EQ((*r)->version, it->second.second);
    }
  }
  void CheckCount() { ASSERT_EQ(*store_->Count(), model_.size()); }
  void CheckScan() {
    static const char* kPrefixes[] = {"", "a", "ab", "user/", "zzz"};
    ScanOptions o{kPrefixes[rng_() % 5], rng_() % 2 ? Key() : "", rng_() % 8};
    auto page = store_->Scan(o);
    ASSERT_TRUE(page.ok());
    std::vector<std::string> expected;
    bool more = false;
    for (auto it = model_.upper_bound(o.start_after); it != model_.end(); ++it) {
      if (it->first < o.prefix) continue;
      if (!it->first.starts_with(o.prefix)) break;
      if (o.limit != 0 && expected.size() == o.limit) {
        more = true;
        break;
      }
      expected.push_back(it->first);
    }
    std::vector<std::string> got;
    for (auto& kv : page->items) got.push_back(kv.key);
    ASSERT_EQ(got, expected) << "prefix=" << o.prefix << " after=" << o.start_after;
    ASSERT_EQ(page->more, more);
  }
  void CheckAll() {
    std::map<std::string, std::pair<std::string, Seq>> actual;
    ASSERT_TRUE(store_->ForEach({}, [&](std::string_view k, std::string_view v, Seq s) {
                        actual[std::string(k)] = {std::string(v), s};
                        return true;
                      }).ok());
    ASSERT_EQ(actual, model_);
  }

 private:
  std::string dir_;
  std::mt19937 rng_;
  std::unique_ptr<Store> store_;
  Model model_;
  Seq seq_ = 0;
};

TEST(Model, RandomOperationsMatchAStdMap) {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    TempDir dir;
    ModelRun run(dir.path(), seed);
    for (int i = 0; i < 3000; ++i) {
      ASSERT_NO_FATAL_FAILURE(run.Step()) << "seed " << seed << " step " << i;
    }
    ASSERT_NO_FATAL_FAILURE(run.CheckAll());
    ASSERT_NO_FATAL_FAILURE(run.Reopen());
    ASSERT_NO_FATAL_FAILURE(run.CheckAll());
  }
}

}  // namespace
}  // namespace mehdb

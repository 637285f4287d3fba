// SPDX-License-Identifier: MIT
//
// Shared by the unit tests: a fresh directory under $TMPDIR for one test,
// removed afterwards, opening a store that must open, and waiting for the
// write-ahead log's applier.
#ifndef MEHDB_TESTS_UNIT_TEMP_DIR_H_
#define MEHDB_TESTS_UNIT_TEMP_DIR_H_

#include <gtest/gtest.h>
#include <mehdb/store.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace mehdb::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/mehdb-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Opens `dir`, recording a test failure (and answering nullptr) if it can't.
inline std::unique_ptr<Store> OpenOrDie(const std::string& dir, const Options& o = {}) {
  auto s = Store::Open(dir, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

// Waits until the applier has committed every acknowledged write to LMDB,
// for tests that look at LMDB's own state (the change log's retention, the
// data file) rather than at what callers see.
inline void WaitUntilApplied(const Store& store) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto st = store.GetStats();
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    if (st->applied_seq == st->last_seq) return;
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the applier is stuck";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace mehdb::testing

#endif  // MEHDB_TESTS_UNIT_TEMP_DIR_H_

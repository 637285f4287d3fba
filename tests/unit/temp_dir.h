// SPDX-License-Identifier: MIT
//
// Shared by the unit tests: a fresh directory under $TMPDIR for one test,
// removed afterwards, and opening a store that must open.
#ifndef MEHDB_TESTS_UNIT_TEMP_DIR_H_
#define MEHDB_TESTS_UNIT_TEMP_DIR_H_

#include <gtest/gtest.h>
#include <mehdb/store.h>

#include <cstdlib>
#include <filesystem>
#include <string>

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

}  // namespace mehdb::testing

#endif  // MEHDB_TESTS_UNIT_TEMP_DIR_H_

// SPDX-License-Identifier: MIT
//
// A fresh directory under $TMPDIR for one test, removed afterwards.
#ifndef MEHDB_TESTS_UNIT_TEMP_DIR_H_
#define MEHDB_TESTS_UNIT_TEMP_DIR_H_

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

}  // namespace mehdb::testing

#endif  // MEHDB_TESTS_UNIT_TEMP_DIR_H_

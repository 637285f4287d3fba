// SPDX-License-Identifier: MIT
//
// Implementation of fuzz_support.h.
#include "fuzz_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace mehdb_fuzz {
namespace {

class Scratch {
 public:
  Scratch() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base && *base ? base : "/tmp") + "/mehdb-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) Fail("cannot make a scratch dir");
    path_ = tmpl;
  }
  ~Scratch() { RemoveTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

const std::string& ScratchDir() {
  static const Scratch scratch;
  return scratch.path();
}

std::string FreshPath(std::string_view prefix) {
  static std::uint64_t counter = 0;
  return ScratchDir() + "/" + std::string(prefix) + "-" +
         std::to_string(++counter);
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

void Fail(std::string_view what) {
  std::fprintf(stderr, "fuzz property broken: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::abort();
}

std::uint8_t InputReader::Byte() {
  if (data_.empty()) return 0;
  const auto b = static_cast<std::uint8_t>(data_.front());
  data_.remove_prefix(1);
  return b;
}

std::string_view InputReader::Until(char sep) {
  const std::size_t at = data_.find(sep);
  const std::string_view part = data_.substr(0, at);
  data_.remove_prefix(at == std::string_view::npos ? data_.size() : at + 1);
  return part;
}

}  // namespace mehdb_fuzz

// SPDX-License-Identifier: MIT
//
// What the fuzz targets share: scratch directories for real stores, and a
// way to report a broken property. A target reports through Fail(), which
// aborts: libFuzzer records the input as a crash, and the replay runner
// (replay_main.cc) fails the meson test that replays it.
#ifndef MEHDB_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define MEHDB_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mehdb_fuzz {

// A directory under $TMPDIR (or /tmp) for this process, made on first use
// and removed with its contents when the process exits normally.
const std::string& ScratchDir();

// A path under ScratchDir() that does not exist yet ("<prefix>-<n>").
std::string FreshPath(std::string_view prefix);

// Removes `path` and everything under it; failures are ignored (the scratch
// directory goes at exit anyway).
void RemoveTree(const std::string& path);

// Prints "fuzz property broken: <what>" and aborts.
[[noreturn]] void Fail(std::string_view what);

// Reads the fuzz input front to back: small integers that steer a target,
// then the rest as bytes. Reads past the end yield zeros / empty views, so
// every input is usable.
class InputReader {
 public:
  InputReader(const std::uint8_t* data, std::size_t size)
      : data_(reinterpret_cast<const char*>(data), size) {}
  std::uint8_t Byte();
  std::string_view Rest() const { return data_; }
  // Up to the next `sep` (consumed) or the end.
  std::string_view Until(char sep);
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

}  // namespace mehdb_fuzz

#endif  // MEHDB_TESTS_FUZZ_FUZZ_SUPPORT_H_

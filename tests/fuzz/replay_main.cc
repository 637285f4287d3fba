// SPDX-License-Identifier: MIT
//
// main() for the fuzz targets when they are not built with libFuzzer (gcc,
// or clang without -Dfuzz=true): runs LLVMFuzzerTestOneInput once on every
// file named on the command line, or in a directory named there, so the
// seed corpora and the crash regressions (tests/fuzz/regressions/<name>/)
// replay in every build. Arguments starting with '-' are libFuzzer flags
// (the meson tests pass -runs=0, which makes a libFuzzer build do the same
// replay) and are skipped.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size);

namespace {

bool Replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", file.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  // A copy in its own allocation, as libFuzzer passes it, so a read past
  // the end is caught by ASan instead of landing in the string's capacity.
  std::vector<std::uint8_t> input(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(input.data(), input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("-")) continue;
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg, ec))
        if (entry.is_regular_file()) files.push_back(entry.path());
      std::sort(files.begin(), files.end());
    } else {
      files.emplace_back(arg);
    }
    for (const auto& file : files) {
      if (!Replay(file)) return 1;
      ++replayed;
    }
  }
  if (replayed == 0) {
    std::fprintf(stderr, "no inputs: give files or directories\n");
    return 1;
  }
  std::printf("replayed %zu inputs\n", replayed);
  return 0;
}

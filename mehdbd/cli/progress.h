// SPDX-License-Identifier: MIT
//
// A one-line progress bar for long transfers (put from a file, get, backup).
// It draws on stderr, and only when stderr is a terminal: piped or logged
// output stays clean, and stdout (which may carry the value) is never
// touched. Transfers under 1 MiB never draw.
#ifndef MEHDBD_CLI_PROGRESS_H_
#define MEHDBD_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace mehdb_cli {

class Progress {
 public:
  // `label` precedes the numbers ("backup"). `enabled` = false never draws
  // (the caller decides, normally IsTerminal(stderr)).
  Progress(std::string label, bool enabled);
  ~Progress();  // finishes the line if anything was drawn

  // `total` is 0 when unknown (then only bytes and rate are shown).
  void Update(std::uint64_t done, std::uint64_t total);

  // Whether stderr is a terminal.
  static bool StderrIsTerminal();

 private:
  void Draw(std::uint64_t done, std::uint64_t total);

  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::uint64_t last_done_ = 0;
  std::uint64_t last_total_ = 0;
};

}  // namespace mehdb_cli

#endif  // MEHDBD_CLI_PROGRESS_H_

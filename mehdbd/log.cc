// SPDX-License-Identifier: MIT
//
// Implementation of log.h. A line is assembled first and written with one
// write(2): POSIX makes writes of up to PIPE_BUF bytes to a pipe atomic, which
// is what keeps concurrent lines whole under a container runtime.
#include "log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace mehdbd {
namespace {

std::atomic<bool> quiet{false};

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void Log(LogLevel level, std::string_view message) {
  if (level == LogLevel::kInfo && quiet.load(std::memory_order_relaxed)) return;
  std::string line = "mehdbd: ";
  line += LevelName(level);
  line += ": ";
  line += message;
  line += '\n';
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere else to report a failing stderr
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void SetLogQuiet(bool value) { quiet.store(value, std::memory_order_relaxed); }

}  // namespace mehdbd

// SPDX-License-Identifier: MIT
//
// Implementation of progress.h. Redraws at most ten times a second with a
// carriage return, so a fast transfer costs a handful of writes.
#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace mehdb_cli {
namespace {

constexpr std::uint64_t kMinBytes = std::uint64_t{1} << 20;

std::string Human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes,
                units[u]);
  return buf;
}

}  // namespace

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (!drawn_) return;
  Draw(last_done_, last_total_);
  std::fputc('\n', stderr);
}

bool Progress::StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

void Progress::Update(std::uint64_t done, std::uint64_t total) {
  last_done_ = done;
  last_total_ = total;
  if (!enabled_) return;
  if (done < kMinBytes && total < kMinBytes) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(done, total);
}

void Progress::Draw(std::uint64_t done, std::uint64_t total) {
  drawn_ = true;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  std::string line = "\r" + label_ + " " + Human(static_cast<double>(done));
  if (total > 0 && done <= total) {
    const int width = 30;
    const int filled = static_cast<int>(width * static_cast<double>(done) /
                                        static_cast<double>(total));
    line += " / " + Human(static_cast<double>(total)) + " [" +
            std::string(static_cast<std::size_t>(filled), '#') +
            std::string(static_cast<std::size_t>(width - filled), ' ') + "]";
    char pct[16];
    std::snprintf(pct, sizeof pct, " %3d%%",
                  static_cast<int>(100.0 * static_cast<double>(done) /
                                   static_cast<double>(total)));
    line += pct;
  }
  line += "  " + Human(rate) + "/s\033[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace mehdb_cli

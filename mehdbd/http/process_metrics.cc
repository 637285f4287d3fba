// SPDX-License-Identifier: MIT
//
// Implementation of process_metrics.h (Linux: proc(5)).
#include "http/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/prometheus_text.h"

namespace mehdbd::http {
namespace {

std::optional<std::string> ReadSmallFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Seconds since the epoch at which the machine booted (/proc/stat btime).
std::optional<std::uint64_t> BootTime() {
  const auto stat = ReadSmallFile("/proc/stat");
  if (!stat) return std::nullopt;
  const auto at = stat->find("\nbtime ");
  if (at == std::string::npos) return std::nullopt;
  std::uint64_t btime = 0;
  if (std::sscanf(stat->c_str() + at + 7, "%" SCNu64, &btime) != 1) return std::nullopt;
  return btime;
}

std::optional<std::uint64_t> CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // less the one opendir itself holds
}

std::string Fixed(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

std::optional<ProcessSample> SampleProcess() {
  const auto stat = ReadSmallFile("/proc/self/stat");
  const auto boot = BootTime();
  const auto fds = CountOpenFds();
  if (!stat || !boot || !fds) return std::nullopt;
  // Fields after the command name, which is in parentheses and may itself
  // hold spaces and ')': everything after the last ')' is numbers.
  const auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat->substr(close + 1));
  // Field 3 (state) is the first after ')'; we want 14, 15, 22, 23, 24.
  std::string state;
  fields >> state;
  std::uint64_t v[22] = {};  // fields 4..25
  for (auto& x : v)
    if (!(fields >> x)) return std::nullopt;
  const auto field = [&](int n) { return v[n - 4]; };
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  rlimit limit{};
  if (ticks <= 0 || page <= 0 || ::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  ProcessSample s;
  s.cpu_seconds = static_cast<double>(field(14) + field(15)) / static_cast<double>(ticks);
  s.start_time_seconds =
      static_cast<double>(*boot) + static_cast<double>(field(22)) / static_cast<double>(ticks);
  s.virtual_bytes = field(23);
  s.resident_bytes = field(24) * static_cast<std::uint64_t>(page);
  s.open_fds = *fds;
  s.max_fds = limit.rlim_cur == RLIM_INFINITY ? 0 : limit.rlim_cur;
  return s;
}

void RenderProcessMetrics(const ProcessSample& s, std::string& out) {
  using prometheus::UnprefixedMetric;
  UnprefixedMetric(out, "process_cpu_seconds_total", "counter",
                   "User and system CPU time spent in seconds.", Fixed(s.cpu_seconds));
  UnprefixedMetric(out, "process_resident_memory_bytes", "gauge",
                   "Resident memory size in bytes.", std::to_string(s.resident_bytes));
  UnprefixedMetric(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                   std::to_string(s.virtual_bytes));
  UnprefixedMetric(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                   std::to_string(s.open_fds));
  if (s.max_fds > 0) {  // 0: unlimited, which the format cannot say
    UnprefixedMetric(out, "process_max_fds", "gauge",
                     "Maximum number of open file descriptors.", std::to_string(s.max_fds));
  }
  UnprefixedMetric(out, "process_start_time_seconds", "gauge",
                   "Start time of the process since unix epoch in seconds.",
                   Fixed(s.start_time_seconds));
}

}  // namespace mehdbd::http

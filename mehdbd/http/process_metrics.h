// SPDX-License-Identifier: MIT
//
// The standard `process_*` metrics every Prometheus client library exports
// (CPU seconds, resident and virtual memory, open and maximum file
// descriptors, start time), read from /proc/self on each scrape, so a
// dashboard built for any exporter works for mehdbd too. These names carry
// no mehdb_ prefix: they are the conventional ones.
#ifndef MEHDBD_HTTP_PROCESS_METRICS_H_
#define MEHDBD_HTTP_PROCESS_METRICS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace mehdbd::http {

struct ProcessSample {
  double cpu_seconds = 0;           // user + system
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;        // the soft RLIMIT_NOFILE
  double start_time_seconds = 0;    // since the Unix epoch
};

// This process's figures; nullopt when /proc cannot be read (the metrics
// are then left out, not made up).
std::optional<ProcessSample> SampleProcess();

// Appends the process_* families for `sample` in Prometheus text format.
void RenderProcessMetrics(const ProcessSample& sample, std::string& out);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_PROCESS_METRICS_H_

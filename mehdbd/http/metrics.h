// SPDX-License-Identifier: MIT
//
// Request metrics and their Prometheus text rendering. Counters are fixed
// arrays of atomics indexed by route and status code, so recording a request
// takes no lock and costs a few relaxed increments: it runs on every request
// of every worker thread.
//
// Exposed families (all prefixed mehdb_):
//   http_requests_total{route,code}          counter
//   http_request_duration_seconds{route}     histogram
//   store_entries, store_disk_bytes, store_map_bytes, store_used_bytes,
//   store_last_seq, store_log_entries, store_log_bytes,
//   store_applied_seq, store_applier_lag_seqs, store_applier_lag_bytes,
//   store_wal_bytes                                      gauges
//   store_commits_total, store_map_growths_total         counters
//   store_group_commit_size                  histogram (writes per commit)
//   role{role}, build_info{version}          info gauges
// Peer-sync families are rendered by replication_metrics.h.
#ifndef MEHDBD_HTTP_METRICS_H_
#define MEHDBD_HTTP_METRICS_H_

#include <mehdb/store.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "http/route.h"
#include "config/identity.h"
#include "net/front_end.h"

namespace mehdbd::http {

class Metrics {
 public:
  // Upper bounds of the latency histogram, in seconds.
  static constexpr std::array<double, 12> kLatencyBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

  // Thread-safe and lock-free. `status` outside 100..599 counts as 599.
  void Record(Route route, int status, std::chrono::nanoseconds elapsed);

  // Requests recorded so far for (route, status): for tests.
  std::uint64_t Count(Route route, int status) const;

  // The whole exposition text. `stats` may be null if reading them failed
  // (the store families are then left out).
  std::string Render(const mehdb::Stats* stats, const Identity& identity) const;

 private:
  static constexpr int kCodes = 500;  // statuses 100..599
  using Counter = std::atomic<std::uint64_t>;
  struct PerRoute {
    std::array<Counter, kCodes> codes{};
    std::array<Counter, kLatencyBounds.size() + 1> buckets{};  // last: +Inf
    Counter sum_ns{0};
  };
  std::array<PerRoute, kRouteCount> routes_{};
};

// Appends the front end's families: connections_open, connections_idle,
// connections_shed_total, request_body_bytes_buffered,
// request_body_budget_refusals_total, connection_timeouts_total,
// request_framing_errors_total (all prefixed mehdb_).
void RenderFrontEndMetrics(const net::FrontEndStats& stats, std::string& out);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_METRICS_H_

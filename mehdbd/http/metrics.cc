// SPDX-License-Identifier: MIT
//
// Implementation of metrics.h, written with prometheus_text.h. Histogram
// buckets are cumulative in the text format, which is why the store's
// per-bucket group-commit counts are summed as they are written out.
#include "http/metrics.h"

#include <mehdb/version.h>

#include "base/prometheus_text.h"

namespace mehdbd::http {
using prometheus::Family;
using prometheus::Label;
using prometheus::Number;
using prometheus::Sample;

void Metrics::Record(Route route, int status,
                     std::chrono::nanoseconds elapsed) {
  PerRoute& r = routes_[static_cast<int>(route)];
  const int code = (status < 100 || status > 599) ? 599 : status;
  r.codes[code - 100].fetch_add(1, std::memory_order_relaxed);
  const double s = std::chrono::duration<double>(elapsed).count();
  std::size_t b = 0;
  while (b < kLatencyBounds.size() && s > kLatencyBounds[b]) ++b;
  r.buckets[b].fetch_add(1, std::memory_order_relaxed);
  r.sum_ns.fetch_add(
      static_cast<std::uint64_t>(elapsed.count() > 0 ? elapsed.count() : 0),
      std::memory_order_relaxed);
}

std::uint64_t Metrics::Count(Route route, int status) const {
  if (status < 100 || status > 599) return 0;
  return routes_[static_cast<int>(route)].codes[status - 100].load(
      std::memory_order_relaxed);
}

std::string Metrics::Render(const mehdb::Stats* stats,
                            const Identity& identity) const {
  std::string out;
  out.reserve(8192);
  Family(out, "http_requests_total", "counter",
         "HTTP requests answered, by route and status code.");
  for (int i = 0; i < kRouteCount; ++i) {
    const auto route = static_cast<Route>(i);
    for (int c = 0; c < kCodes; ++c) {
      const std::uint64_t n =
          routes_[i].codes[c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      Sample(out, "http_requests_total",
             Label("route", RouteLabel(route)) + "," +
                 Label("code", std::to_string(c + 100)),
             n);
    }
  }
  Family(out, "http_request_duration_seconds", "histogram",
         "Time from routing a request to writing its answer.");
  for (int i = 0; i < kRouteCount; ++i) {
    const PerRoute& r = routes_[i];
    const std::string route = Label("route", RouteLabel(static_cast<Route>(i)));
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < r.buckets.size(); ++b) {
      cumulative += r.buckets[b].load(std::memory_order_relaxed);
      const std::string le = b < kLatencyBounds.size()
                                 ? Number(kLatencyBounds[b])
                                 : std::string("+Inf");
      Sample(out, "http_request_duration_seconds_bucket",
             route + "," + Label("le", le), cumulative);
    }
    out +=
        "mehdb_http_request_duration_seconds_sum{" + route + "} " +
        Number(static_cast<double>(r.sum_ns.load(std::memory_order_relaxed)) /
                1e9) +
        "\n";
    Sample(out, "http_request_duration_seconds_count", route, cumulative);
  }
  if (stats != nullptr) {
    const struct {
      const char* name;
      const char* help;
      std::uint64_t value;
    } gauges[] = {
        {"store_entries", "Keys stored.", stats->entries},
        {"store_disk_bytes", "Size of the data file.", stats->disk_bytes},
        {"store_map_bytes", "Current LMDB map size.", stats->map_bytes},
        {"store_used_bytes", "Bytes in pages in use.", stats->used_bytes},
        {"store_last_seq", "Sequence number of the newest write.",
         stats->last_seq},
        {"store_log_entries", "Change-log records retained.",
         stats->log_entries},
        {"store_log_bytes", "Change-log bytes retained.", stats->log_bytes},
        {"store_applied_seq", "Sequence number of the newest write applied to LMDB.",
         stats->applied_seq},
        {"store_applier_lag_seqs", "Acknowledged writes not yet applied to LMDB.",
         stats->last_seq - stats->applied_seq},
        {"store_applier_lag_bytes", "Bytes of acknowledged writes not yet applied to LMDB.",
         stats->unapplied_bytes},
        {"store_wal_bytes", "Size of the write-ahead log's segment files.", stats->wal_bytes},
    };
    for (const auto& g : gauges) {
      Family(out, g.name, "gauge", g.help);
      Sample(out, g.name, "", g.value);
    }
    Family(out, "store_commits_total", "counter",
           "Write transactions committed.");
    Sample(out, "store_commits_total", "", stats->commits);
    Family(out, "store_map_growths_total", "counter", "Times the map grew.");
    Sample(out, "store_map_growths_total", "", stats->map_growths);
    Family(out, "store_group_commit_size", "histogram",
           "Writes carried per committed transaction (group commit).");
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < stats->group_size_buckets.size(); ++b) {
      cumulative += stats->group_size_buckets[b];
      const std::string le = b + 1 < stats->group_size_buckets.size()
                                 ? std::to_string(1u << b)
                                 : std::string("+Inf");
      Sample(out, "store_group_commit_size_bucket", Label("le", le),
             cumulative);
    }
    Sample(out, "store_group_commit_size_sum", "", stats->committed_writes);
    // _count must equal the +Inf bucket, so it comes from the same reads.
    Sample(out, "store_group_commit_size_count", "", cumulative);
  }
  Family(out, "role", "gauge", "This instance's role (always 1).");
  Sample(out, "role", Label("role", RoleName(identity.role)), std::uint64_t{1});
  Family(out, "build_info", "gauge", "Version of this build (always 1).");
  Sample(out, "build_info", Label("version", MEHDB_VERSION), std::uint64_t{1});
  return out;
}

void RenderFrontEndMetrics(const net::FrontEndStats& stats, std::string& out) {
  struct Row {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t value;
  };
  const Row rows[] = {
      {"connections_open", "gauge", "Client, health and peer connections open.",
       stats.open_connections},
      {"connections_idle", "gauge", "Open connections between requests.",
       stats.idle_connections},
      {"connections_shed_total", "counter",
       "Connections closed or refused at --max-connections.", stats.shed_connections},
      {"request_body_bytes_buffered", "gauge",
       "Request body bytes held in memory.", stats.buffered_body_bytes},
      {"request_body_budget_refusals_total", "counter",
       "Requests refused with 503 at --max-buffered-bodies.", stats.budget_refusals},
      {"connection_timeouts_total", "counter",
       "Connections cut by a deadline (idle, head, body, write, handshake).",
       stats.timeouts},
      {"request_framing_errors_total", "counter",
       "Requests refused because they could not be framed with certainty.",
       stats.framing_errors},
  };
  for (const Row& r : rows) {
    Family(out, r.name, r.type, r.help);
    Sample(out, r.name, "", r.value);
  }
}

}  // namespace mehdbd::http

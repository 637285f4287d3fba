// SPDX-License-Identifier: MIT
#include "http/replication_metrics.h"

#include "base/prometheus_text.h"

namespace mehdbd::http {

using prometheus::Family;
using prometheus::Label;
using prometheus::Sample;

void RenderFollowerMetrics(const replication::FollowerStatus& s, std::string& out) {
  const struct {
    const char* name;
    const char* help;
    std::uint64_t value;
  } gauges[] = {
      {"follower_applied_seq", "Last leader seq applied here.", s.applied_seq},
      {"follower_leader_last_seq", "Leader's last seq, as last heard.", s.leader_last_seq},
      {"follower_lag_records", "Records the leader has that this follower has not applied.",
       s.lag_records},
      {"follower_ready", "1 when in contact with the leader and within the lag bound.",
       s.ready ? 1u : 0u},
  };
  for (const auto& g : gauges) {
    Family(out, g.name, "gauge", g.help);
    Sample(out, g.name, "", g.value);
  }
  Family(out, "follower_lag_seconds", "gauge",
         "Age of the leader's commit of the oldest record not yet applied here (0 when caught up).");
  Sample(out, "follower_lag_seconds", "", s.lag_seconds);
  if (s.staleness_seconds >= 0) {
    Family(out, "follower_staleness_seconds", "gauge",
           "Seconds since this follower last knew it held all the leader had: "
           "how stale its reads may be.");
    Sample(out, "follower_staleness_seconds", "", s.staleness_seconds);
  }
  Family(out, "follower_leader_away", "gauge",
         "1 when out of contact with the leader and serving reads within --max-staleness.");
  Sample(out, "follower_leader_away", "", std::uint64_t{s.leader_away ? 1u : 0u});
  if (s.seconds_since_contact >= 0) {
    Family(out, "follower_seconds_since_contact", "gauge",
           "Seconds since the last answer from the leader.");
    Sample(out, "follower_seconds_since_contact", "", s.seconds_since_contact);
  }
  Family(out, "follower_state", "gauge", "The follower loop's state (always 1).");
  Sample(out, "follower_state", Label("state", s.state), std::uint64_t{1});
  Family(out, "follower_mode", "gauge",
         "How the follower syncs: peer, or original-api (a mehdb 0.6 leader); always 1.");
  Sample(out, "follower_mode", Label("mode", s.mode), std::uint64_t{1});

  const struct {
    const char* name;
    const char* help;
    std::uint64_t value;
  } counters[] = {
      {"follower_snapshots_total", "Full syncs: snapshots loaded from the leader.", s.snapshots},
      {"follower_partial_resumes_total",
       "Connections to the leader that streamed on from this follower's own seq.",
       s.partial_resumes},
      {"follower_batches_applied_total", "Log batches applied.", s.batches_applied},
      {"follower_records_applied_total", "Log records applied.", s.records_applied},
      {"follower_peer_errors_total",
       "Failed exchanges with the leader: unreachable, bad answers, rejected batches.",
       s.peer_errors},
      {"follower_original_api_cycles_total",
       "Completed cycles of following a mehdb 0.6 leader through GET /keys and /get/{key}.",
       s.original_api_cycles},
      {"follower_history_mismatches_total",
       "Times the leader turned out to have another history than this store.",
       s.history_mismatches},
  };
  for (const auto& c : counters) {
    Family(out, c.name, "counter", c.help);
    Sample(out, c.name, "", c.value);
  }
}

void RenderLeaderMetrics(const std::vector<replication::AckTable::Entry>& followers,
                         replication::AckTable::Clock::time_point now, std::string& out) {
  if (followers.empty()) return;
  Family(out, "leader_follower_acked_seq", "gauge",
         "Highest seq each follower has confirmed applying.");
  for (const auto& f : followers)
    Sample(out, "leader_follower_acked_seq", Label("follower", f.name), f.acked);
  Family(out, "leader_follower_seconds_since_seen", "gauge",
         "Seconds since each follower last asked for the log.");
  for (const auto& f : followers)
    Sample(out, "leader_follower_seconds_since_seen", Label("follower", f.name),
           std::chrono::duration<double>(now - f.last_seen).count());
}

}  // namespace mehdbd::http

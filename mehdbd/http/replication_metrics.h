// SPDX-License-Identifier: MIT
//
// Peer-sync state in Prometheus text: the same facts GET /replication gives
// as JSON, for scrapers and alerts (a follower that keeps resnapshotting, one
// that fell behind, one that refuses a leader with another history).
//
// Follower families (only on a follower):
//   follower_applied_seq, follower_leader_last_seq, follower_lag_records,
//   follower_lag_seconds, follower_seconds_since_contact (absent before the
//   first contact), follower_ready, follower_state{state}     gauges
//   follower_snapshots_total, follower_partial_resumes_total,
//   follower_batches_applied_total, follower_records_applied_total,
//   follower_peer_errors_total, follower_history_mismatches_total  counters
// Leader families (only on a leader):
//   leader_follower_acked_seq{follower}, leader_follower_seconds_since_seen{follower}
#ifndef MEHDBD_HTTP_REPLICATION_METRICS_H_
#define MEHDBD_HTTP_REPLICATION_METRICS_H_

#include <string>
#include <vector>

#include "replication/ack_table.h"
#include "replication/follower.h"

namespace mehdbd::http {

void RenderFollowerMetrics(const replication::FollowerStatus& status, std::string& out);
void RenderLeaderMetrics(const std::vector<replication::AckTable::Entry>& followers,
                         replication::AckTable::Clock::time_point now, std::string& out);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_REPLICATION_METRICS_H_

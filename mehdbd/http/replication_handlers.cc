// SPDX-License-Identifier: MIT
//
// The client-facing side of peer sync: GET /replication (state as JSON, in
// the spirit of Redis's INFO replication) and acks=N on writes (Redis WAIT:
// the write is committed before the wait and never rolled back).
#include <time.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/errors.h"
#include "base/units.h"

namespace mehdbd::http {
namespace {

// "2026-11-30T18:20:01.123Z"
std::string FormatUtc(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm utc {};
  gmtime_r(&secs, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(date) + millis;
}

}  // namespace

void Api::Replication(net::Response& res) {
  auto store = this->store();
  nlohmann::json doc = {
      {"role", std::string(RoleName(identity_.role))},
      {"history", store->History().ToHex()},
      {"last_seq", store->LastSeq()},
  };
  if (follower_ != nullptr) {
    const auto s = follower_->Status();
    doc["follower"] = {
        {"state", s.state},
        {"mode", s.mode},
        {"original_api_cycles", s.original_api_cycles},
        {"leader", s.leader},
        {"leader_history", s.leader_history},
        {"applied_seq", s.applied_seq},
        {"leader_last_seq", s.leader_last_seq},
        {"leader_first_seq", s.leader_first_seq},
        {"lag_records", s.lag_records},
        {"lag_seconds", s.lag_seconds},
        {"seconds_since_contact", s.seconds_since_contact},
        {"staleness_seconds", s.staleness_seconds},
        {"leader_away", s.leader_away},
        {"snapshots", s.snapshots},
        {"partial_resumes", s.partial_resumes},
        {"batches_applied", s.batches_applied},
        {"records_applied", s.records_applied},
        {"peer_errors", s.peer_errors},
        {"history_mismatches", s.history_mismatches},
        {"last_error", s.last_error},
        {"ready", s.ready},
        {"not_ready_reason", s.not_ready_reason},
    };
  }
  if (acks_ != nullptr) {
    nlohmann::json followers = nlohmann::json::array();
    const auto now = replication::AckTable::Clock::now();
    for (const auto& e : acks_->Snapshot())
      followers.push_back({{"name", e.name},
                           {"acked_seq", e.acked},
                           {"last_seen", FormatUtc(e.last_seen_wall)},
                           {"seconds_since_seen",
                            std::chrono::duration<double>(now - e.last_seen).count()},
                           {"polling", e.polls_open > 0}});
    doc["leader"] = {
        {"followers", followers},
        {"forget_followers_after_seconds",
         std::chrono::duration<double>(acks_->forget_after()).count()}};
  }
  res.set_content(doc.dump() + "\n", "application/json");
}

std::optional<AckWait> Api::ParseAckWait(const net::Request& req, std::string& error) const {
  AckWait out;
  for (const char* name : {"acks", "ack_timeout"}) {
    if (req.get_param_value_count(name) > 1) {
      error = std::string(name) + " is given more than once; nothing was written";
      return std::nullopt;
    }
  }
  if (req.has_param("acks")) {
    // No more followers than a leader can know of (AckTable's bound).
    auto wanted = ParseCount(req.get_param_value("acks"), 0,
                             replication::AckTable::kMaxFollowers);
    if (const auto* e = std::get_if<std::string>(&wanted)) {
      error = "acks: " + *e + " (followers that must apply the write); nothing was written";
      return std::nullopt;
    }
    out.requested = true;
    out.wanted = static_cast<std::size_t>(std::get<std::uint64_t>(wanted));
    out.timeout = options_.max_ack_wait;
  }
  if (req.has_param("ack_timeout")) {
    if (!out.requested) {
      error = "ack_timeout needs acks=N; nothing was written";
      return std::nullopt;
    }
    auto timeout = ParseDuration(req.get_param_value("ack_timeout"));
    if (const auto* e = std::get_if<std::string>(&timeout)) {
      error = "ack_timeout: " + *e + "; nothing was written";
      return std::nullopt;
    }
    // Longer waits are cut to --max-ack-wait (documented), not refused.
    out.timeout = std::min(std::get<std::chrono::milliseconds>(timeout), options_.max_ack_wait);
  }
  return out;
}

void Api::AwaitAcks(const AckWait& acks, net::Response& res, mehdb::Seq seq) {
  if (!acks.requested) return;
  if (acks_ == nullptr) return SetAcks(acks, res, 0);
  const std::size_t got = acks_->Count(seq);
  if (got >= acks.wanted || acks.timeout.count() == 0) return SetAcks(acks, res, got);
  ParkForAcks(acks, res, seq, std::chrono::steady_clock::now() + acks.timeout);
}

// The write is committed and its answer written but for the acks: it waits
// parked on the ack table's queue, holding no worker, and each recorded
// ack wakes it to count again.
void Api::ParkForAcks(const AckWait& acks, net::Response& res, mehdb::Seq seq,
                      std::chrono::steady_clock::time_point deadline) {
  res.Park(acks_->changes(), deadline, [this, acks, seq, deadline](net::Response& again, bool final) {
    const std::size_t got = acks_->Count(seq);
    if (got >= acks.wanted || final || std::chrono::steady_clock::now() >= deadline)
      return SetAcks(acks, again, got);
    ParkForAcks(acks, again, seq, deadline);
  });
}

void Api::SetAcks(const AckWait& acks, net::Response& res, std::size_t got) {
  res.set_header("X-Mehdb-Acks", std::to_string(got));
  // Fewer followers than asked for in time: 202, the write stands.
  if (got < acks.wanted) res.status = 202;
}

}  // namespace mehdbd::http

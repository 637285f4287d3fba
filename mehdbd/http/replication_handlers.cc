// SPDX-License-Identifier: MIT
//
// The client-facing side of peer sync: GET /replication (state as JSON, in
// the spirit of Redis's INFO replication) and acks=N on writes (Redis WAIT:
// the write is committed before the wait and never rolled back).
#include <charconv>
#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/errors.h"
#include "units.h"

namespace mehdbd::http {

void Api::Replication(httplib::Response& res) {
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
                           {"seconds_since_seen",
                            std::chrono::duration<double>(now - e.last_seen).count()}});
    doc["leader"] = {{"followers", followers}};
  }
  res.set_content(doc.dump() + "\n", "application/json");
}

bool Api::AwaitAcks(const httplib::Request& req, httplib::Response& res, mehdb::Seq seq) {
  if (!req.has_param("acks")) return true;
  const std::string text = req.get_param_value("acks");
  std::size_t wanted = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), wanted);
  if (ec != std::errc() || p != text.data() + text.size()) {
    // The write has happened; say so, and what was wrong with the question.
    res.set_header("X-Mehdb-Acks", "0");
    AnswerText(res, 400, "acks: expected a number of followers (the write was committed)");
    return false;
  }
  std::chrono::milliseconds timeout = options_.max_ack_wait;
  if (req.has_param("ack_timeout")) {
    auto parsed = ParseDuration(req.get_param_value("ack_timeout"));
    if (const auto* d = std::get_if<std::chrono::milliseconds>(&parsed))
      timeout = std::min(*d, options_.max_ack_wait);
  }
  const std::size_t got = acks_ == nullptr ? 0 : acks_->WaitFor(seq, wanted, timeout);
  res.set_header("X-Mehdb-Acks", std::to_string(got));
  // Fewer followers than asked for in time: 202, the write stands.
  if (got < wanted) res.status = 202;
  return true;
}

}  // namespace mehdbd::http

// SPDX-License-Identifier: MIT
//
// Api's entry points and routing: the order of checks is the original's
// (path, then key, then method).
#include "http/api.h"

#include <cstdio>

#include "http/errors.h"

namespace mehdbd::http {

using Admission = net::Service::Admission;

Api::Api(StoreHandle& stores, Identity identity, ServerOptions options,
         Metrics& metrics)
    : stores_(stores),
      identity_(std::move(identity)),
      options_(options),
      metrics_(metrics) {}

Admission Api::Admit(Request& req, Response& res) {
  const Target target = ParseTarget(req.target, options_.key_rule);
  req.tag = static_cast<int>(target.route);  // for metrics
  // Authentication first, for every route alike (see auth/authenticator.h).
  if (auth_ != nullptr &&
      !auth_->Admit(req, res, RouteAccess(target.route),
                    auth::Listener::kApi))
    return Admission::kAnswered;
  if (target.route == Route::kUnknown) {
    // The original's exact 404 body; a 400 only for a malformed escape.
    if (target.bad) {
      AnswerText(res, 400, *target.bad);
    } else {
      AnswerText(res, 404, "404 page not found");
    }
    return Admission::kAnswered;
  }
  if (target.bad) {
    AnswerText(res, 400, *target.bad);
    return Admission::kAnswered;
  }
  const std::string allow(AllowedMethods(target.route));
  if (req.method == "OPTIONS") {
    res.status = 204;
    res.set_header("Allow", allow);
    return Admission::kAnswered;
  }
  if (!MethodAllowed(target.route, req.method)) {
    res.set_header("Allow", allow);
    AnswerText(res, 405, "405 method not allowed");
    return Admission::kAnswered;
  }
  if (recovery_ != nullptr && recovery_->Active() &&
      (target.route == Route::kSet || target.route == Route::kGet ||
       target.route == Route::kKeys || target.route == Route::kBackup)) {
    // The store is empty until the followers' data is loaded: an answer
    // from it would be wrong, a write would start a second history.
    res.set_header("Retry-After", "2");
    AnswerText(res, 503,
               "the leader started on an empty store and is recovering its data from its "
               "followers; retry in a few seconds");
    return Admission::kAnswered;
  }
  if (target.route == Route::kSet) return AdmitSet(req, res, target);
  if (AnswersOnTheLoop(req, target.route)) {
    Serve(req, res);
    return Admission::kAnswered;
  }
  return Admission::kHandle;
}

// Reads that cost a lookup in the memory map and never wait: answered on
// the event loop itself, sparing two thread hand-offs per request (most of
// a small GET's cost). Anything that may wait (min_seq), stream, scan many
// keys or render at length goes to a worker.
bool Api::AnswersOnTheLoop(const Request& req, Route route) {
  switch (route) {
    case Route::kGet:
    case Route::kStatus:
    case Route::kHealthz:
    case Route::kReadyz:
      break;
    default:
      return false;
  }
  return !req.has_param("min_seq") && !req.has_header("X-Mehdb-Min-Seq");
}

Admission Api::AdmitSet(const Request& req, Response& res,
                        const Target& target) {
  if (identity_.role == Role::kFollower && follower_ != nullptr &&
      follower_->LeaderOutOfReach()) {
    // A 307 would send the client to a leader this follower cannot reach
    // either (restarting, say): tell it to come back instead.
    res.set_header("Retry-After", "5");
    AnswerText(res, 503,
               "the leader is out of reach; this follower serves reads only: retry the "
               "write in a few seconds");
    return Admission::kAnswered;
  }
  if (identity_.role == Role::kFollower) {
    // Followers never write client data: the leader's URL for the same
    // path. The key passed the key rule, so it needs no re-encoding.
    std::string path = "/set/" + PercentEncode(target.key);
    if (!target.query.empty()) path += "?" + std::string(target.query);
    RedirectToLeader(res, path);
    return Admission::kAnswered;
  }
  // Every parameter is checked before anything is written (or read).
  std::string error;
  const auto plan = PlanFor(req, error);
  if (!plan) {
    AnswerText(res, 400, error);
    return Admission::kAnswered;
  }
  // Writes never block (they defer their answers to the store's thread), so
  // they run on the loop. A DELETE's body, if it has one, is read and
  // ignored, which keeps the connection usable.
  if (req.method == "DELETE") return Admission::kReadBodyOnLoop;
  if (plan->never) {
    AnswerText(res, 412, "precondition failed");
    return Admission::kAnswered;
  }
  if (req.get_header_u64("Content-Length") > options_.max_value_bytes) {
    AnswerText(res, 413,
               "value too large: the limit is " +
                   std::to_string(options_.max_value_bytes) + " bytes");
    return Admission::kAnswered;
  }
  // No body (curl -X PUT with no data) stores an empty value, as before.
  return Admission::kReadBodyOnLoop;
}

std::optional<WritePlan> Api::PlanFor(const Request& req, std::string& error) const {
  const auto pre = ParsePreconditions(req, error);
  auto plan = pre ? PlanWrite(*pre, error) : std::nullopt;
  const auto acks = plan ? ParseAckWait(req, error) : std::nullopt;
  if (!plan || !acks) return std::nullopt;
  plan->acks = *acks;
  return plan;
}

void Api::Serve(const Request& req, Response& res) {
  const Target target = ParseTarget(req.target, options_.key_rule);
  switch (target.route) {
    case Route::kSet: {
      std::string error;
      const auto plan = PlanFor(req, error);
      if (!plan) {  // Admit checked it; kept for a direct caller
        AnswerText(res, 400, error);
        return;
      }
      if (req.method == "DELETE") return Delete(res, target, *plan);
      return Write(res, target, *plan, req.body);
    }
    case Route::kGet:
      return GetValue(req, res, target);
    case Route::kKeys:
      return ListKeys(req, res);
    case Route::kStatus:
      return Status(req, res);
    case Route::kHealthz:
      return Healthz(res);
    case Route::kReadyz:
      return Readyz(res);
    case Route::kMetrics:
      return MetricsText(res);
    case Route::kBackup:
      return Backup(req, res);
    case Route::kReplication:
      return Replication(res);
    case Route::kWatch:
      return Watch(req, res);
    case Route::kUnknown:
      break;
  }
  AnswerText(res, 404, "404 page not found");
}

void Api::RedirectToLeader(Response& res, const std::string& path_and_query) {
  res.status = 307;
  res.set_header("Location", identity_.leader_url + path_and_query);
  res.body.clear();
}

void Api::SetAppliedSeq(Response& res, mehdb::Seq seq) {
  res.set_header("X-Mehdb-Applied-Seq", std::to_string(seq));
  // On a follower: how old this answer's data may be, in seconds (see
  // FollowerStatus::staleness_seconds); "unknown" before its first catch-up.
  if (follower_ != nullptr) {
    const double staleness = follower_->StalenessSeconds();
    char text[32] = "unknown";
    if (staleness >= 0) std::snprintf(text, sizeof text, "%.3f", staleness);
    res.set_header("X-Mehdb-Staleness", text);
  }
}

}  // namespace mehdbd::http

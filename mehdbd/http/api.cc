// SPDX-License-Identifier: MIT
//
// Api's entry point and routing: the order of checks is the original's
// (path, then key, then method), and an answer given without reading a body
// that the client did send closes the connection, since the unread bytes
// would otherwise be parsed as the next request.
#include "http/api.h"

#include <cstdio>

#include "http/errors.h"
#include "http/request_context.h"

namespace mehdbd::http {

void CloseAfterAnswer(httplib::Response& res) {
  res.set_header("Connection", "close");
  CurrentRequest().close_connection = true;
}

bool HasBody(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  return req.get_header_value<std::uint64_t>("Content-Length") > 0;
}

Api::Api(StoreHandle& stores, Identity identity, ServerOptions options,
         Metrics& metrics)
    : stores_(stores),
      identity_(std::move(identity)),
      options_(options),
      metrics_(metrics) {}

bool Api::Answer(const httplib::Request& req, httplib::Response& res,
                 bool read_body) {
  const Target target = ParseTarget(req.target, options_.key_rule);
  RequestContext& ctx = CurrentRequest();
  ctx.route = target.route;  // for metrics, see request_context.h
  ctx.body_consumed = false;
  if (req.has_header("Content-Length") &&
      req.get_header_value("Content-Length").find_first_not_of("0123456789") !=
          std::string::npos) {
    AnswerText(res, 400, "bad Content-Length");
    CloseAfterAnswer(res);
    return true;
  }
  // Authentication first, for every route alike (see http/auth.h).
  const bool answered =
      (auth_ != nullptr &&
       !auth_->Admit(req, res, Authenticator::AccessFor(target.route),
                     Listener::kApi)) ||
      Dispatch(req, res, target, read_body);
  if (answered && HasBody(req) && !ctx.body_consumed) CloseAfterAnswer(res);
  return answered;
}

bool Api::Dispatch(const httplib::Request& req, httplib::Response& res,
                   const Target& target, bool read_body) {
  if (target.route == Route::kUnknown) {
    // The original's exact 404 body; a 400 only for a malformed escape.
    if (target.bad) {
      AnswerText(res, 400, *target.bad);
    } else {
      AnswerText(res, 404, "404 page not found");
    }
    return true;
  }
  if (target.bad) {
    AnswerText(res, 400, *target.bad);
    return true;
  }
  const std::string allow(AllowedMethods(target.route));
  if (req.method == "OPTIONS") {
    res.status = 204;
    res.set_header("Allow", allow);
    return true;
  }
  if (!MethodAllowed(target.route, req.method)) {
    res.set_header("Allow", allow);
    AnswerText(res, 405, "405 method not allowed");
    return true;
  }
  switch (target.route) {
    case Route::kSet:
      return AnswerSet(req, res, target, read_body);
    case Route::kGet:
      GetValue(req, res, target);
      return true;
    case Route::kKeys:
      ListKeys(req, res);
      return true;
    case Route::kStatus:
      Status(req, res);
      return true;
    case Route::kHealthz:
      Healthz(res);
      return true;
    case Route::kReadyz:
      Readyz(res);
      return true;
    case Route::kMetrics:
      MetricsText(res);
      return true;
    case Route::kBackup:
      Backup(req, res);
      return true;
    case Route::kReplication:
      Replication(res);
      return true;
    case Route::kUnknown:
      break;
  }
  AnswerText(res, 404, "404 page not found");
  return true;
}

void Api::RedirectToLeader(httplib::Response& res,
                           const std::string& path_and_query) {
  res.status = 307;
  res.set_header("Location", identity_.leader_url + path_and_query);
  res.body.clear();
}

void Api::SetAppliedSeq(httplib::Response& res, mehdb::Seq seq) {
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

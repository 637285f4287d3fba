// SPDX-License-Identifier: MIT
//
// Api's entry points and routing: the order of checks is the original's
// (path, then key, then method), and an answer given without reading a body
// that the client did send closes the connection, since the unread bytes
// would otherwise be parsed as the next request.
#include "http/api.h"

#include "http/errors.h"
#include "http/request_context.h"

namespace mehdbd::http {

bool HasBody(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  return req.get_header_value<std::uint64_t>("Content-Length") > 0;
}

Api::Api(mehdb::Store& store, Identity identity, ServerOptions options,
         Metrics& metrics)
    : store_(store),
      identity_(std::move(identity)),
      options_(options),
      metrics_(metrics) {}

bool Api::Answer(const httplib::Request& req, httplib::Response& res) {
  const Target target = ParseTarget(req.target, options_.key_rule);
  CurrentRequest().route = target.route;  // for metrics, see request_context.h
  const bool answered = Dispatch(req, res, target);
  if (answered && HasBody(req)) res.set_header("Connection", "close");
  return answered;
}

bool Api::Dispatch(const httplib::Request& req, httplib::Response& res,
                   const Target& target) {
  if (target.route == Route::kUnknown) {
    if (target.bad) AnswerText(res, 400, *target.bad);
    // The original's exact 404 body.
    else AnswerText(res, 404, "404 page not found");
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
    case Route::kSet: return AnswerSet(req, res, target);
    case Route::kGet: GetValue(req, res, target); return true;
    case Route::kKeys: ListKeys(req, res); return true;
    case Route::kStatus: Status(req, res); return true;
    case Route::kHealthz: Healthz(res); return true;
    case Route::kReadyz: Readyz(res); return true;
    case Route::kMetrics: MetricsText(res); return true;
    case Route::kBackup: Backup(req, res); return true;
    case Route::kUnknown: break;
  }
  AnswerText(res, 404, "404 page not found");
  return true;
}

void Api::PutWithBody(const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader) {
  const Target target = ParseTarget(req.target, options_.key_rule);
  std::string error;
  const auto pre = ParsePreconditions(req, error);
  const auto plan = pre ? PlanWrite(*pre, error) : std::nullopt;
  if (target.route != Route::kSet || target.bad || !plan) {
    // Answer() lets only valid PUTs through; this cannot happen.
    AnswerText(res, 500, "internal routing error");
    return;
  }
  const std::size_t limit = options_.max_value_bytes;
  std::string value;
  value.reserve(std::min<std::uint64_t>(
      limit, req.get_header_value<std::uint64_t>("Content-Length")));
  bool too_large = false;
  const bool complete = reader([&](const char* data, std::size_t size) {
    if (size > limit - value.size()) {
      too_large = true;
      return false;  // stop reading: no point buffering past the limit
    }
    value.append(data, size);
    return true;
  });
  if (too_large || !complete) {
    res.set_header("Connection", "close");
    if (too_large) {
      AnswerText(res, 413, "value too large: the limit is " +
                               std::to_string(limit) + " bytes");
    } else {
      AnswerText(res, 400, "request body ended early");
    }
    return;
  }
  Write(res, target, *plan, value);
}

void Api::RedirectToLeader(httplib::Response& res,
                           const std::string& path_and_query) {
  res.status = 307;
  res.set_header("Location", identity_.leader_url + path_and_query);
  res.body.clear();
}

void Api::SetAppliedSeq(httplib::Response& res, mehdb::Seq seq) {
  res.set_header("X-Mehdb-Applied-Seq", std::to_string(seq));
}

}  // namespace mehdbd::http

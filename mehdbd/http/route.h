// SPDX-License-Identifier: MIT
//
// Request-target parsing: which route a path names, and the key it carries.
// Routing follows the original mehdb (gorilla/mux) observed from outside:
// the path decides first and the method second, so a known path with a wrong
// method is 405 while an unknown path is 404 whatever the method. Segments
// are split on the raw '/' and then percent-decoded one by one, so "%2F"
// inside a key stays part of the key (and is then rejected by the key rule)
// instead of creating a new segment. Non-canonical paths ("//keys",
// "/set/../set/abc") are simply unknown: no redirects, unlike the original.
#ifndef MEHDBD_HTTP_ROUTE_H_
#define MEHDBD_HTTP_ROUTE_H_

#include <optional>
#include <string>
#include <string_view>

#include "auth/authenticator.h"
#include "base/key_rule.h"
#include "base/url_encoding.h"

namespace mehdbd::http {

enum class Route {
  kSet,      // /set/{key}: PUT (write), DELETE
  kGet,      // /get/{key}: GET, HEAD
  kKeys,     // /keys
  kStatus,   // /status
  kHealthz,  // /healthz
  kReadyz,   // /readyz
  kMetrics,  // /metrics
  kBackup,   // /backup
  kReplication,  // /replication: peer-sync state as JSON
  kWatch,    // /watch: changes from the change log (long-poll)
  kUnknown,  // anything else: 404
};
constexpr int kRouteCount = static_cast<int>(Route::kUnknown) + 1;

struct Target {
  Route route = Route::kUnknown;
  std::string key;                 // decoded; only for kSet / kGet
  std::optional<std::string> bad;  // why the request is a 400, if it is
  std::string_view query;          // raw text after '?', may be empty
};

// Parses a request target ("/set/abc?x=1"). Keys that break `rule` make the
// route kUnknown under KeyRule::kOriginal (the original answered 404) and set
// `bad` under KeyRule::kExtended (400 with the reason); an empty key is a
// 404 under both, as it was; a key over the length limit is a 400 under both
// (the original answered 500 and leaked a server path).
Target ParseTarget(std::string_view target, KeyRule rule);

// Methods a route accepts, for the Allow header ("GET, HEAD, OPTIONS").
std::string_view AllowedMethods(Route route);
bool MethodAllowed(Route route, std::string_view method);

// Whether a route needs the bearer token (see auth/authenticator.h): writes
// and /backup always, reads by policy, probes and metrics never.
auth::Access RouteAccess(Route route);

// Short name for metrics and logs: "set", "get", ..., "other".
std::string_view RouteLabel(Route route);

// Percent-decodes `in` into `out` ('+' stays '+': this is a path, not a
// form). False on a malformed escape.
bool PercentDecode(std::string_view in, std::string& out);

// Percent-encoding for Location and Link headers: url_encoding.h.
using mehdbd::PercentEncode;

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_ROUTE_H_

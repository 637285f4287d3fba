// SPDX-License-Identifier: MIT
//
// Implementation of route.h. Routes are few and fixed, so matching is a
// handful of string comparisons on decoded segments rather than a regex
// table.
#include "http/route.h"

#include <mehdb/store.h>

#include <array>
#include <vector>

namespace mehdbd::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Route FixedRoute(std::string_view name) {
  if (name == "keys") return Route::kKeys;
  if (name == "status") return Route::kStatus;
  if (name == "healthz") return Route::kHealthz;
  if (name == "readyz") return Route::kReadyz;
  if (name == "metrics") return Route::kMetrics;
  if (name == "backup") return Route::kBackup;
  if (name == "replication") return Route::kReplication;
  if (name == "watch") return Route::kWatch;
  return Route::kUnknown;
}

}  // namespace

bool PercentDecode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

Target ParseTarget(std::string_view target, KeyRule rule) {
  Target t;
  std::string_view path = target;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    t.query = target.substr(q + 1);
  }
  if (path.empty() || path[0] != '/') return t;
  // Split the raw path; a route has at most two segments.
  std::array<std::string, 2> segs;
  std::size_t count = 0;
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view raw = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos
                                               : slash - start);
    if (count == segs.size()) return t;  // too many segments
    if (!PercentDecode(raw, segs[count])) {
      t.bad = "malformed percent-encoding in the path";
      return t;
    }
    ++count;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (count == 1) {
    t.route = FixedRoute(segs[0]);
    return t;
  }
  const Route route = segs[0] == "set"   ? Route::kSet
                      : segs[0] == "get" ? Route::kGet
                                         : Route::kUnknown;
  if (route == Route::kUnknown || segs[1].empty()) return t;
  if (auto reason = CheckKey(rule, segs[1])) {
    const bool too_long = segs[1].size() > mehdb::kMaxKeyBytes;
    if (rule == KeyRule::kOriginal && !too_long) return t;  // 404, as it was
    t.route = route;
    t.bad = "bad key: " + *reason;
    return t;
  }
  t.route = route;
  t.key = std::move(segs[1]);
  return t;
}

std::string_view AllowedMethods(Route route) {
  switch (route) {
    case Route::kSet:
      return "PUT, DELETE, OPTIONS";
    case Route::kUnknown:
      return "";
    default:
      return "GET, HEAD, OPTIONS";
  }
}

bool MethodAllowed(Route route, std::string_view method) {
  if (method == "OPTIONS") return route != Route::kUnknown;
  if (route == Route::kSet) return method == "PUT" || method == "DELETE";
  if (route == Route::kUnknown) return false;
  return method == "GET" || method == "HEAD";
}

auth::Access RouteAccess(Route route) {
  using auth::Access;
  switch (route) {
    case Route::kSet:
    case Route::kBackup:
      return Access::kProtected;
    case Route::kGet:
    case Route::kKeys:
    case Route::kStatus:
    case Route::kReplication:
    case Route::kWatch:
      return Access::kRead;
    case Route::kHealthz:
    case Route::kReadyz:
    case Route::kMetrics:
    case Route::kUnknown:
      return Access::kOpen;
  }
  return Access::kProtected;  // a route added later is closed until listed
}

std::string_view RouteLabel(Route route) {
  static constexpr std::array<std::string_view, kRouteCount> kLabels = {
      "set",    "get",     "keys",   "status", "healthz",
      "readyz", "metrics", "backup", "replication", "watch",
      "other"};
  return kLabels[static_cast<int>(route)];
}

}  // namespace mehdbd::http

// SPDX-License-Identifier: MIT
//
// Bearer-token authentication for both listeners (the client API and the
// leader's peer port), decided in this one place. It sits below http/ and
// replication/ (both use it); which Access each client route needs is the
// routes' business (http::RouteAccess in http/route.h).
//
// What needs the token (--auth-token-file set):
//   writes (PUT/DELETE /set/{key}) and /backup ............ always
//   the peer port (/v1/replication/log, /snapshot) ........ always
//   reads (/get, /keys, /status, /replication) ............ with --auth-reads=token
//   /healthz, /readyz, /metrics ........................... never: kubelet
//       probes and Prometheus scrapers carry no token, and these reveal no
//       keys or values
//   unknown paths .......................................... never (404)
//
// Answers (RFC 6750 shapes, choosing 403 for a wrong token as the issue
// asks, so "you sent nothing" and "what you sent is wrong" are told apart):
//   no Authorization header, or one not of the Bearer scheme
//     -> 401, WWW-Authenticate: Bearer realm="mehdb"
//   a Bearer token that does not match -> 403
// The check runs before anything else about the request: before its body is
// read (an unread body then closes the connection, see api.h), before a
// follower's 307 to the leader, before 404/405 of a known path. One rule
// for every route is simpler to reason about than an order of checks, and
// the redirect's target needs the token anyway.
//
// Thread safety: Admit() and RenderMetrics() may run concurrently.
#ifndef MEHDBD_AUTH_AUTHENTICATOR_H_
#define MEHDBD_AUTH_AUTHENTICATOR_H_

#include "net/message.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/token_file.h"

namespace mehdbd::auth {

// What a request asks for, which decides whether it needs the token.
enum class Access {
  kOpen,       // probes and metrics: never
  kRead,       // reads: only with ReadPolicy::kToken
  kProtected,  // writes, admin, peer sync: always
};

enum class ReadPolicy { kOpen, kToken };

// Which listener rejected a request, for the metric's label.
enum class Listener { kApi, kPeer };

enum class AuthOutcome { kAdmitted, kMissing, kWrong };

class Authenticator {
 public:
  // `token` must outlive this object.
  Authenticator(const TokenFile& token, ReadPolicy reads);

  // The decision alone, without answering or counting.
  AuthOutcome Check(const net::Request& req, Access access) const;

  // Checks `req`; when it is refused, answers `res` (401 or 403, see the
  // file comment), counts the refusal and returns false.
  bool Admit(const net::Request& req, net::Response& res,
             Access access, Listener listener);

  // Prometheus text for mehdb_auth_rejected_total{listener,reason}.
  std::string RenderMetrics() const;

  // Refusals so far (for tests).
  std::uint64_t Rejected(Listener listener, AuthOutcome reason) const;

 private:
  const TokenFile& token_;
  const ReadPolicy reads_;
  // [listener][0: missing, 1: wrong]
  std::array<std::array<std::atomic<std::uint64_t>, 2>, 2> rejected_{};
};

// The token of an "Authorization: Bearer <token>" header value; empty when
// the value is not of the Bearer scheme (the scheme name is
// case-insensitive, RFC 9110 11.1).
std::string_view BearerToken(std::string_view authorization);

}  // namespace mehdbd::auth

#endif  // MEHDBD_AUTH_AUTHENTICATOR_H_

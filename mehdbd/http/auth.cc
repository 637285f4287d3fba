// SPDX-License-Identifier: MIT
//
// Implementation of auth.h.
#include "http/auth.h"

#include <cctype>

#include "http/errors.h"
#include "http/prometheus_text.h"

namespace mehdbd::http {
namespace {

int Slot(AuthOutcome reason) { return reason == AuthOutcome::kMissing ? 0 : 1; }

}  // namespace

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        kScheme[i]) {
      return {};
    }
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ' && rest.front() != '\t') return {};
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) {
    rest.remove_prefix(1);
  }
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) {
    rest.remove_suffix(1);
  }
  return rest;
}

Authenticator::Authenticator(const TokenFile& token, ReadPolicy reads)
    : token_(token), reads_(reads) {}

Access Authenticator::AccessFor(Route route) {
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

AuthOutcome Authenticator::Check(const net::Request& req,
                                 Access access) const {
  if (access == Access::kOpen) return AuthOutcome::kAdmitted;
  if (access == Access::kRead && reads_ == ReadPolicy::kOpen) {
    return AuthOutcome::kAdmitted;
  }
  // get_header_value answers a copy: keep it alive for the view into it.
  const std::string header = req.get_header_value("Authorization");
  const std::string_view presented = BearerToken(header);
  if (presented.empty()) return AuthOutcome::kMissing;
  return token_.Matches(presented) ? AuthOutcome::kAdmitted
                                   : AuthOutcome::kWrong;
}

bool Authenticator::Admit(const net::Request& req, net::Response& res,
                          Access access, Listener listener) {
  const AuthOutcome outcome = Check(req, access);
  if (outcome == AuthOutcome::kAdmitted) return true;
  rejected_[static_cast<int>(listener)][Slot(outcome)].fetch_add(
      1, std::memory_order_relaxed);
  if (outcome == AuthOutcome::kMissing) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"mehdb\"");
    AnswerText(res, 401, "unauthorized: send Authorization: Bearer <token>");
  } else {
    AnswerText(res, 403, "forbidden: the bearer token is not valid");
  }
  return false;
}

std::uint64_t Authenticator::Rejected(Listener listener,
                                      AuthOutcome reason) const {
  if (reason == AuthOutcome::kAdmitted) return 0;
  return rejected_[static_cast<int>(listener)][Slot(reason)].load(
      std::memory_order_relaxed);
}

std::string Authenticator::RenderMetrics() const {
  std::string out;
  prometheus::Family(out, "auth_rejected_total", "counter",
                     "Requests refused for a missing or wrong bearer token, by listener.");
  for (Listener listener : {Listener::kApi, Listener::kPeer}) {
    for (AuthOutcome reason : {AuthOutcome::kMissing, AuthOutcome::kWrong}) {
      prometheus::Sample(
          out, "auth_rejected_total",
          prometheus::Label("listener", listener == Listener::kApi ? "api" : "peer") + "," +
              prometheus::Label("reason", reason == AuthOutcome::kMissing ? "missing" : "wrong"),
          Rejected(listener, reason));
    }
  }
  return out;
}

}  // namespace mehdbd::http

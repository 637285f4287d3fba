// SPDX-License-Identifier: MIT
//
// One HTTP exchange for the `mehdb` client, following redirects itself: a
// follower answers writes with 307 and the leader's URL, and the body must
// be sent again there (cpp-httplib's own redirect support cannot replay a
// streamed body). At most kMaxRedirects hops.
#ifndef MEHDBD_CLI_TRANSPORT_H_
#define MEHDBD_CLI_TRANSPORT_H_

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "cli/progress.h"

namespace mehdb_cli {

constexpr int kMaxRedirects = 5;

// "http://host:port" and the path that follows it (may be empty).
struct Url {
  std::string origin;
  std::string path;
};
std::optional<Url> ParseUrl(const std::string& url);

// Where a request body comes from: a string, or a file read from offset 0
// (so it can be sent again after a redirect). Neither means no body.
struct Body {
  const std::string* text = nullptr;
  int fd = -1;
  std::uint64_t size = 0;
};

struct Exchange {
  std::string method;  // GET, PUT or DELETE
  std::string path;    // "/get/abc", appended to the base URL's path
  httplib::Headers headers;
  Body body;
  // If set, a 200 answer's body goes here instead of Reply::body; false
  // from the sink cancels the transfer.
  std::function<bool(const char*, std::size_t)> sink;
  // Called with a 200 answer's status and headers before its body.
  std::function<void(const httplib::Response&)> on_headers;
  Progress* progress = nullptr;  // download or upload progress
};

// Why no answer came, when none did: each is its own exit code and
// message, since each has another fix (a typo in the host name is not a
// stopped daemon is not an untrusted certificate).
enum class Failure {
  kNone,
  kBadUrl,       // not http(s)://host[:port][/path]
  kDns,          // the host name does not resolve
  kUnreachable,  // connection refused, or no route
  kTls,          // handshake or certificate verification failed
  kTimeout,      // connecting or waiting for bytes took longer than --timeout
  kBroken,       // the connection failed midway (reset, cut short)
};

struct Reply {
  int status = 0;  // 0 when the transfer itself failed
  httplib::Headers headers;
  std::string body;   // unless it went to the sink
  Failure failure = Failure::kNone;  // when status == 0
  std::string error;  // what failed, when status == 0
  std::string url;    // the URL that answered
  bool sink_failed = false;  // the sink refused bytes (a full disk, ...)
};

// The daemon to talk to: its base URL, and the bearer token to send (empty:
// none). The token goes with every hop, redirects included: a follower's 307
// points at its leader, which checks the same token.
struct Endpoint {
  std::string url;
  std::string token;
  // Bound on connecting and on each wait for bytes (not on the whole
  // transfer: a large backup streams for as long as it streams).
  std::chrono::milliseconds timeout{30000};
  // How long to keep trying again (--retry-for) when no daemon answered
  // (refused, name not resolving: a pod restarting), when a GET broke off,
  // or when the daemon answered 503 with Retry-After (a follower out of
  // contact, a leader recovering or draining): nothing was done then, so
  // trying again is safe for writes too. 0: one attempt.
  std::chrono::milliseconds retry_for{0};
};

// One exchange, with redirects followed and retries as retry_for allows;
// the last attempt's reply.
Reply Perform(const Endpoint& endpoint, const Exchange& exchange);

// PEM CA certificates to trust for https:// URLs (--ca-file /
// MEHDB_CA_FILE); empty: the system's store. Set once, before Perform().
void SetCaFile(std::string ca_file);

}  // namespace mehdb_cli

#endif  // MEHDBD_CLI_TRANSPORT_H_

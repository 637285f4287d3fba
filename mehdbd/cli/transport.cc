// SPDX-License-Identifier: MIT
//
// Implementation of transport.h over httplib::Client.
#include "cli/transport.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <thread>
#include <vector>

#include "tls/client.h"

namespace mehdb_cli {
namespace {

std::string& CaFile() {
  static std::string ca_file;
  return ca_file;
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 307 || status == 308;
}

// The host of "scheme://host[:port]" ("[::1]" loses its brackets).
std::string HostOf(const std::string& origin) {
  std::string rest = origin.substr(origin.find("://") + 3);
  if (!rest.empty() && rest[0] == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find(':'));
}

// cpp-httplib reports a name that does not resolve and a refused
// connection alike (Error::Connection): resolve first to tell them apart.
bool Resolves(const std::string& host, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (found != nullptr) ::freeaddrinfo(found);
  if (rc == 0) return true;
  error = "cannot resolve host name '" + host + "': " + ::gai_strerror(rc);
  return false;
}

void SetFailure(Reply& reply, const httplib::Client& cli, httplib::Error error,
                std::chrono::steady_clock::duration waited,
                std::chrono::milliseconds timeout) {
  using httplib::Error;
  switch (error) {
    case Error::Connection:
      reply.failure = Failure::kUnreachable;
      reply.error = "cannot connect: connection refused or host unreachable";
      return;
    case Error::ConnectionTimeout:
      reply.failure = Failure::kTimeout;
      reply.error = "no connection within --timeout " +
                    std::to_string(timeout.count()) + "ms";
      return;
    case Error::SSLConnection:
    case Error::SSLLoadingCerts:
    case Error::SSLServerVerification:
      reply.failure = Failure::kTls;
      reply.error = "TLS: " + mehdbd::tls::DescribeError(cli, error);
      return;
    case Error::Read:
    case Error::Write:
      // cpp-httplib says "Read" for a timeout and for a cut connection
      // alike; a read that failed only after the whole timeout is the former.
      if (waited >= timeout * 9 / 10) {
        reply.failure = Failure::kTimeout;
        reply.error = "no answer within --timeout " +
                      std::to_string(timeout.count()) + "ms";
        return;
      }
      reply.failure = Failure::kBroken;
      reply.error = "the connection broke off (" + httplib::to_string(error) + ")";
      return;
    default:
      reply.failure = Failure::kBroken;
      reply.error = mehdbd::tls::DescribeError(cli, error);
  }
}

Reply Once(const Url& url, const Endpoint& endpoint, const Exchange& ex) {
  const std::string& token = endpoint.token;
  Reply reply;
  reply.url = url.origin + url.path;
  httplib::Client cli(url.origin);
  if (!cli.is_valid()) {
    reply.failure = Failure::kBadUrl;
    reply.error = "unsupported URL " + url.origin;
    return reply;
  }
  if (!Resolves(HostOf(url.origin), reply.error)) {
    reply.failure = Failure::kDns;
    return reply;
  }
  const auto timeout = endpoint.timeout;
  const auto seconds = static_cast<time_t>(timeout.count() / 1000);
  const auto micros = static_cast<time_t>(timeout.count() % 1000 * 1000);
  cli.set_connection_timeout(seconds, micros);
  cli.set_read_timeout(seconds, micros);
  cli.set_write_timeout(seconds, micros);
  cli.set_follow_location(false);
  cli.set_keep_alive(false);
  // A PUT goes out as headers, then body: without TCP_NODELAY the body waits
  // for the server's delayed ACK of the headers (~40 ms per write).
  cli.set_tcp_nodelay(true);
  if (!token.empty()) cli.set_bearer_token_auth(token.c_str());
  // Redirects may lead to another host: each hop checks its certificate.
  mehdbd::tls::ConfigureClient(cli, {CaFile(), /*verify_hostname=*/true});

  int status = 0;
  // The read timeout bounds each wait for bytes: measured from the last
  // bytes seen, to tell a timeout from a cut connection afterwards.
  auto last_bytes = std::chrono::steady_clock::now();
  auto on_response = [&](const httplib::Response& res) {
    last_bytes = std::chrono::steady_clock::now();
    status = res.status;
    if (status == 200 && ex.on_headers) ex.on_headers(res);
    return true;
  };
  auto on_data = [&](const char* data, std::size_t n) {
    last_bytes = std::chrono::steady_clock::now();
    if (status == 200 && ex.sink) {
      if (ex.sink(data, n)) return true;
      reply.sink_failed = true;
      return false;
    }
    reply.body.append(data, n);
    return true;
  };
  auto on_progress = [&](std::uint64_t done, std::uint64_t total) {
    if (ex.progress && status == 200) ex.progress->Update(done, total);
    return true;
  };

  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (ex.method == "GET") {
    res = cli.Get(url.path, ex.headers, on_response, on_data, on_progress);
  } else if (ex.method == "DELETE") {
    res = cli.Delete(url.path, ex.headers);
  } else if (ex.method == "PUT" && ex.body.fd >= 0) {
    const int fd = ex.body.fd;
    Progress* progress = ex.progress;
    const std::uint64_t size = ex.body.size;
    res = cli.Put(
        url.path, ex.headers, static_cast<std::size_t>(size),
        [fd, progress, size](std::size_t offset, std::size_t length,
                             httplib::DataSink& sink) {
          std::vector<char> buf(std::min<std::size_t>(length, 256 << 10));
          const ssize_t n =
              ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
          if (n <= 0) return false;  // the file shrank or failed: abort
          if (progress)
            progress->Update(offset + static_cast<std::size_t>(n), size);
          return sink.write(buf.data(), static_cast<std::size_t>(n));
        },
        "application/octet-stream");
  } else if (ex.method == "PUT") {
    static const std::string kEmpty;
    const std::string& text = ex.body.text ? *ex.body.text : kEmpty;
    res = cli.Put(url.path, ex.headers, text, "application/octet-stream");
  } else {
    reply.error = "unsupported method " + ex.method;
    return reply;
  }
  if (!res) {
    SetFailure(reply, cli, res.error(),
               std::chrono::steady_clock::now() - last_bytes, timeout);
    return reply;
  }
  reply.status = res->status;
  reply.headers = res->headers;
  // Bodies of non-GET requests were not streamed through on_data.
  if (ex.method != "GET") reply.body = res->body;
  return reply;
}

}  // namespace

void SetCaFile(std::string ca_file) { CaFile() = std::move(ca_file); }

std::optional<Url> ParseUrl(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return std::nullopt;
  const auto path_at = url.find('/', scheme_end + 3);
  Url out;
  out.origin = url.substr(0, path_at);
  if (out.origin.size() <= scheme_end + 3) return std::nullopt;  // no host
  if (path_at != std::string::npos) out.path = url.substr(path_at);
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  return out;
}

namespace {

// Redirects followed, no retries.
Reply FollowRedirects(const Endpoint& endpoint, const Exchange& exchange) {
  const std::string& base_url = endpoint.url;
  auto base = ParseUrl(base_url);
  if (!base) {
    Reply r;
    r.failure = Failure::kBadUrl;
    r.error = "bad URL '" + base_url + "' (expected http://host:port)";
    return r;
  }
  Url url{base->origin, base->path + exchange.path};
  for (int hop = 0;; ++hop) {
    Reply reply = Once(url, endpoint, exchange);
    if (!IsRedirect(reply.status)) return reply;
    // Headers is a case-insensitive map.
    const auto it = reply.headers.find("Location");
    const std::string location = it == reply.headers.end() ? "" : it->second;
    if (location.empty() || hop == kMaxRedirects) return reply;
    if (location[0] == '/') {
      url.path = location;  // same origin
    } else if (auto next = ParseUrl(location)) {
      url = *next;
      // push_back, not = "/": GCC 12 warns (-Wrestrict) on the assignment.
      if (url.path.empty()) url.path.push_back('/');
    } else {
      return reply;
    }
  }
}

// How long to pause before trying `reply`'s exchange again, or nullopt
// when it is final. `pause` is the backoff for failed connections.
std::optional<std::chrono::milliseconds> RetryPause(const Reply& reply, const Exchange& ex,
                                                    std::chrono::milliseconds pause) {
  using std::chrono::milliseconds;
  if (reply.status == 503) {
    const auto it = reply.headers.find("Retry-After");
    if (it == reply.headers.end()) return std::nullopt;  // a refusal, not "later"
    int seconds = 0;
    const auto [end, ec] = std::from_chars(it->second.data(),
                                           it->second.data() + it->second.size(), seconds);
    if (ec != std::errc() || seconds < 0) seconds = 1;
    // Come back sooner than asked: the usual cause (a pod restarting)
    // often ends within a second.
    return std::min(milliseconds(seconds * 1000), milliseconds(1000));
  }
  if (reply.status != 0) return std::nullopt;
  switch (reply.failure) {
    case Failure::kUnreachable:
    case Failure::kDns:
      return pause;  // nothing reached a daemon
    case Failure::kBroken:
      // A write may have been done before the connection broke; a read
      // streamed into a sink may have written part of its output.
      if (ex.method == "GET" && !ex.sink) return pause;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

Reply Perform(const Endpoint& endpoint, const Exchange& exchange) {
  using Clock = std::chrono::steady_clock;
  const auto give_up = Clock::now() + endpoint.retry_for;
  std::chrono::milliseconds pause(100);
  for (;;) {
    Reply reply = FollowRedirects(endpoint, exchange);
    const auto wait = RetryPause(reply, exchange, pause);
    const auto now = Clock::now();
    if (!wait || now >= give_up) return reply;
    // The last attempt comes at the bound.
    std::this_thread::sleep_for(std::min<Clock::duration>(*wait, give_up - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace mehdb_cli

// SPDX-License-Identifier: MIT
//
// Implementation of connection.h.
#include "http/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "http/request_context.h"

namespace mehdbd::http {

bool WaitFor(socket_t sock, short events, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pollfd p{sock, events, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    const int r =
        ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (r > 0) return true;  // ready, or an error/hang-up the next call reports
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

void AddressOf(socket_t sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(sock, sa, &len) : ::getsockname(sock, sa, &len)) !=
      0)
    return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

namespace {

// After an answer that left a body unread: stop sending (FIN), then read
// and drop what the client still sends for a short while. Closing at once
// with unread bytes would send a reset that can destroy the answer before
// the client reads it.
void LingeringClose(socket_t sock) {
  ::shutdown(sock, SHUT_WR);
  char sink[16384];
  std::size_t dropped = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (dropped < (std::size_t{16} << 20) &&
         std::chrono::steady_clock::now() < end) {
    if (!WaitFor(sock, POLLIN, std::chrono::milliseconds(100))) continue;
    const ssize_t n = ::recv(sock, sink, sizeof sink, 0);
    if (n <= 0) break;  // the client closed (or reset): done
    dropped += static_cast<std::size_t>(n);
  }
}

}  // namespace

bool HasRequestHead(std::string_view bytes) {
  // Blank lines before the request line are skipped by parsers (RFC 9112
  // 2.2), so the head ends at the first blank line after some text.
  const std::size_t text = bytes.find_first_not_of("\r\n");
  if (text == std::string_view::npos) return false;
  bytes.remove_prefix(text);
  return bytes.find("\n\r\n") != std::string_view::npos ||
         bytes.find("\n\n") != std::string_view::npos;
}

bool SocketStream::is_readable() const {
  return HasBuffered() || WaitFor(sock_, POLLIN, read_timeout_);
}

bool SocketStream::is_writable() const {
  return WaitFor(sock_, POLLOUT, write_timeout_);
}

ssize_t SocketStream::read(char* ptr, size_t size) {
  if (!HasBuffered()) {
    if (!WaitFor(sock_, POLLIN, read_timeout_)) return -1;  // timed out
    buf_.resize(kReadChunk);
    ssize_t n;
    do {
      n = ::recv(sock_, buf_.data(), buf_.size(), 0);
    } while (n < 0 && errno == EINTR);
    buf_.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    begin_ = 0;
    if (n <= 0) return n;
  }
  const std::size_t take = std::min(size, buf_.size() - begin_);
  std::memcpy(ptr, buf_.data() + begin_, take);
  begin_ += take;
  return static_cast<ssize_t>(take);
}

ssize_t SocketStream::ReadMore(std::chrono::milliseconds wait) {
  if (!WaitFor(sock_, POLLIN, wait)) return 0;
  buf_.erase(0, begin_);
  begin_ = 0;
  const std::size_t had = buf_.size();
  buf_.resize(had + kReadChunk);
  ssize_t n;
  do {
    n = ::recv(sock_, buf_.data() + had, buf_.size() - had, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  buf_.resize(had + (n > 0 ? static_cast<std::size_t>(n) : 0));
  if (n > 0) return n;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  return -1;
}

ssize_t SocketStream::write(const char* ptr, size_t size) {
  if (!is_writable()) return -1;
  ssize_t n;
  do {
    n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

void SocketStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  AddressOf(sock_, true, ip, port);
}

void SocketStream::get_local_ip_and_port(std::string& ip, int& port) const {
  AddressOf(sock_, false, ip, port);
}

bool ServeRequests(httplib::Stream& stream, std::size_t max_requests,
                   const std::function<bool()>& next_ready,
                   const RequestProcessor& process) {
  for (std::size_t served = 0; served < max_requests; ++served) {
    if (!next_ready()) return false;
    RequestContext& ctx = CurrentRequest();
    ctx = RequestContext{};  // nothing carries over from an unlogged request
    ctx.stream = &stream;
    bool connection_closed = false;
    const bool last = served + 1 == max_requests;
    const bool ok = process(stream, last, connection_closed);
    const bool linger = ctx.close_connection;
    ctx.stream = nullptr;
    if (linger) return true;
    if (!ok || connection_closed) return false;
  }
  return false;
}

void CloseConnection(socket_t sock) {
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
}

void ServeConnection(ConnectionStream& stream, const ConnectionLimits& limits,
                     const std::atomic<socket_t>& listener,
                     const RequestProcessor& process) {
  const socket_t sock = stream.socket();
  // Waits for the next request in slices, so a stopping server is noticed.
  const auto next_ready = [&] {
    const auto idle_end =
        std::chrono::steady_clock::now() + limits.idle_timeout;
    bool ready = stream.HasBuffered();
    while (!ready && listener.load() != INVALID_SOCKET &&
           std::chrono::steady_clock::now() < idle_end) {
      ready = WaitFor(sock, POLLIN, std::chrono::milliseconds(100));
    }
    return ready && listener.load() != INVALID_SOCKET;
  };
  const bool linger =
      ServeRequests(stream, limits.max_requests, next_ready, process);
  stream.Finish();
  if (linger) LingeringClose(sock);
  CloseConnection(sock);
}

bool ServeReadyRequests(PendingConnection& conn, const ConnectionLimits& limits,
                        const std::atomic<bool>& stopping,
                        const RequestProcessor& process) {
  SocketStream stream(conn.sock, limits.read_timeout, limits.write_timeout,
                      std::move(conn.buffered));
  bool keep = false;
  // Only requests whose head is here, or arrives within hot_wait of the
  // previous answer, are served on this thread; a connection waiting for
  // more goes back to the gate, so a slow or idle client holds a worker for
  // at most hot_wait. The short wait is for busy keep-alive clients, whose
  // next request follows within a round trip: sending each through the gate
  // costs two thread hand-offs and four system calls, which took a third
  // off mehdbd's GET rate in bench/http.
  const auto next_ready = [&] {
    if (stopping.load()) return false;
    const auto until = std::chrono::steady_clock::now() + limits.hot_wait;
    while (!HasRequestHead(stream.Buffered())) {
      // Over the limit: back to the gate, which answers 431.
      if (stream.Buffered().size() >= kMaxRequestHeadBytes) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      const ssize_t got = left.count() > 0 ? stream.ReadMore(left) : 0;
      if (got < 0) return false;  // the client left: close
      if (got == 0) break;
    }
    if (!HasRequestHead(stream.Buffered())) {
      keep = true;
      return false;
    }
    ++conn.served;
    return true;
  };
  const std::size_t left =
      limits.max_requests > conn.served ? limits.max_requests - conn.served : 0;
  const bool linger = ServeRequests(stream, left, next_ready, process);
  if (keep && !linger && !stopping.load()) {
    conn.buffered = std::string(stream.Buffered());
    return true;
  }
  if (linger) LingeringClose(conn.sock);
  CloseConnection(conn.sock);
  conn.sock = INVALID_SOCKET;
  return false;
}

}  // namespace mehdbd::http

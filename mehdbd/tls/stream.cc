// SPDX-License-Identifier: MIT
//
// Implementation of stream.h.
#include "tls/stream.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace mehdbd::tls {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Left(Clock::time_point end) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      end - Clock::now()));
}

enum class Next { kRetry, kClosed, kFailed };

// What to do after an OpenSSL call on a non-blocking socket returned `rc`:
// wait (until `end`) for the readiness it asked for and retry, or stop.
Next AfterSslCall(SSL* ssl, socket_t sock, int rc, Clock::time_point end) {
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      return http::WaitFor(sock, POLLIN, Left(end)) ? Next::kRetry
                                                    : Next::kFailed;
    case SSL_ERROR_WANT_WRITE:
      return http::WaitFor(sock, POLLOUT, Left(end)) ? Next::kRetry
                                                     : Next::kFailed;
    case SSL_ERROR_ZERO_RETURN:
      return Next::kClosed;
    default:
      return Next::kFailed;
  }
}

}  // namespace

bool TlsStream::HasBuffered() const {
  // SSL_has_pending also covers records read from the socket but not yet
  // decrypted, which poll() on the socket would no longer report.
  return begin_ < end_ || SSL_has_pending(ssl_) == 1;
}

bool TlsStream::is_readable() const {
  return HasBuffered() || http::WaitFor(sock_, POLLIN, read_timeout_);
}

bool TlsStream::is_writable() const {
  return http::WaitFor(sock_, POLLOUT, write_timeout_);
}

ssize_t TlsStream::read(char* ptr, size_t size) {
  if (begin_ == end_) {
    const auto end = Clock::now() + read_timeout_;
    while (true) {
      ERR_clear_error();
      const int n = SSL_read(ssl_, buf_.data(), static_cast<int>(buf_.size()));
      if (n > 0) {
        begin_ = 0;
        end_ = static_cast<std::size_t>(n);
        break;
      }
      switch (AfterSslCall(ssl_, sock_, n, end)) {
        case Next::kRetry:
          continue;
        case Next::kClosed:
          return 0;
        case Next::kFailed:
          ERR_clear_error();
          finished_ = true;  // no close_notify on a broken connection
          return -1;
      }
    }
  }
  const std::size_t take = std::min(size, end_ - begin_);
  std::memcpy(ptr, buf_.data() + begin_, take);
  begin_ += take;
  return static_cast<ssize_t>(take);
}

ssize_t TlsStream::write(const char* ptr, size_t size) {
  if (size == 0) return 0;
  const int len = static_cast<int>(std::min<size_t>(size, INT_MAX));
  const auto end = Clock::now() + write_timeout_;
  while (true) {
    ERR_clear_error();
    // Without SSL_MODE_ENABLE_PARTIAL_WRITE this sends all `len` bytes or
    // asks to be retried with the same arguments.
    const int n = SSL_write(ssl_, ptr, len);
    if (n > 0) return n;
    if (AfterSslCall(ssl_, sock_, n, end) != Next::kRetry) {
      ERR_clear_error();
      finished_ = true;
      return -1;
    }
  }
}

void TlsStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  http::AddressOf(sock_, true, ip, port);
}

void TlsStream::get_local_ip_and_port(std::string& ip, int& port) const {
  http::AddressOf(sock_, false, ip, port);
}

void TlsStream::Finish() {
  if (finished_) return;
  finished_ = true;
  // One attempt: the socket closes right after, and waiting for the
  // client's close_notify would only hold the worker thread.
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

void ServeTlsConnection(socket_t sock, TlsServerContext& tls,
                        const http::ConnectionLimits& limits,
                        const std::atomic<socket_t>& listener,
                        const http::RequestProcessor& process) {
  const std::shared_ptr<SSL_CTX> ctx = tls.ForNewConnection();
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  const int flags = ::fcntl(sock, F_GETFL);
  bool ok = ssl && flags >= 0 &&
            ::fcntl(sock, F_SETFL, flags | O_NONBLOCK) == 0 &&
            SSL_set_fd(ssl.get(), sock) == 1;
  const auto end = Clock::now() + limits.read_timeout;
  while (ok) {
    ERR_clear_error();
    const int rc = SSL_accept(ssl.get());
    if (rc == 1) break;
    ok = AfterSslCall(ssl.get(), sock, rc, end) == Next::kRetry;
  }
  // Worker threads are reused: leave no error behind for the next socket.
  ERR_clear_error();
  if (!ok) {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return;
  }
  TlsStream stream(ssl.get(), sock, limits.read_timeout, limits.write_timeout);
  http::ServeConnection(stream, limits, listener, process);
}

}  // namespace mehdbd::tls

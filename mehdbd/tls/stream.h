// SPDX-License-Identifier: MIT
//
// TLS on an accepted connection: the handshake, bounded in time, and
// TlsStream, the httplib::Stream that mehdbd's connection loop
// (http/connection.h) reads requests from and writes answers to.
//
// The socket is switched to non-blocking mode so every OpenSSL call returns
// at once; waiting is done with poll() under the same per-operation
// timeouts as the plain SocketStream (read, write), and the handshake as a
// whole gets one read timeout, so a client that sends its handshake a byte
// at a time holds a worker thread for at most that long. (A client that
// connects and sends nothing holds none: on the client listener it waits in
// the gate until its first bytes arrive, see http/server.cc.)
//
// Buffering matches SocketStream: reads go through one buffer per
// connection, and a pipelined request counts as buffered whether its bytes
// sit in that buffer or inside OpenSSL (SSL_has_pending).
#ifndef MEHDBD_TLS_STREAM_H_
#define MEHDBD_TLS_STREAM_H_

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>

#include "http/connection.h"
#include "tls/server_context.h"

namespace mehdbd::tls {

class TlsStream final : public http::ConnectionStream {
 public:
  // `ssl` is attached to `sock` and has completed its handshake; the
  // stream does not own either.
  TlsStream(SSL* ssl, socket_t sock, std::chrono::milliseconds read_timeout,
            std::chrono::milliseconds write_timeout)
      : ssl_(ssl),
        sock_(sock),
        read_timeout_(read_timeout),
        write_timeout_(write_timeout) {}

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return sock_; }

  bool HasBuffered() const override;
  // Sends close_notify (once, without waiting for the client's).
  void Finish() override;

 private:
  SSL* ssl_;
  socket_t sock_;
  std::chrono::milliseconds read_timeout_;
  std::chrono::milliseconds write_timeout_;
  std::array<char, 16384> buf_{};
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool finished_ = false;
};

// Serves one accepted connection over TLS: handshake with the context
// `tls` gives new connections (within limits.read_timeout), then
// http::ServeConnection. A failed handshake (plain HTTP, a client that
// rejects our certificate, a timeout) just closes the socket. Always
// closes `sock`.
void ServeTlsConnection(socket_t sock, TlsServerContext& tls,
                        const http::ConnectionLimits& limits,
                        const std::atomic<socket_t>& listener,
                        const http::RequestProcessor& process);

}  // namespace mehdbd::tls

#endif  // MEHDBD_TLS_STREAM_H_

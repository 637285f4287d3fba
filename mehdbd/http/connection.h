// SPDX-License-Identifier: MIT
//
// One client connection's requests, replacing cpp-httplib 0.11's own loop
// (Server::process_and_close_socket, which a subclass may override). Two
// ways to run it:
//
//  * gated (the plain client listener, server.h): a worker thread gets a
//    connection only once a whole request head has arrived
//    (connection_gate.h waits for that without a thread) and gives it back
//    to the gate when no further complete request is buffered
//    (ServeReadyRequests);
//  * whole life on one thread (TLS connections, the health and peer
//    listeners): ServeConnection waits for the next keep-alive request with
//    poll() in short slices and gives up as soon as the server stops, so a
//    graceful shutdown does not wait out idle connections.
//
// Both run the same request loop (ServeRequests), which:
//
//  * closes the connection after an answer that left a request body unread
//    (RequestContext::close_connection). cpp-httplib would read the unread
//    body as the next request, which is how request smuggling starts; we
//    send the answer, shut our side, drain briefly and close, so the client
//    still reads the answer instead of a reset;
//  * reads through one buffer per connection (cpp-httplib reads request
//    lines a byte at a time) and keeps pipelined bytes between requests;
//  * sends with MSG_NOSIGNAL and uses poll(), not select(), so descriptors
//    above FD_SETSIZE are safe.
#ifndef MEHDBD_HTTP_CONNECTION_H_
#define MEHDBD_HTTP_CONNECTION_H_

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace mehdbd::http {

// httplib::Stream plus what the connection loop needs: whether a request
// is already buffered, and a last word before the socket closes.
class ConnectionStream : public httplib::Stream {
 public:
  // Bytes already received and not yet consumed (a pipelined request).
  virtual bool HasBuffered() const = 0;
  // Called once before the socket is shut down (TLS sends close_notify).
  virtual void Finish() {}
};

// The poll() wait both stream kinds use: true when `events` are ready (or
// an error/hang-up the next call reports), false on timeout. Retries EINTR
// within the same deadline.
bool WaitFor(socket_t sock, short events, std::chrono::milliseconds timeout);

// The address of the peer (`peer`) or of our end of `sock`.
void AddressOf(socket_t sock, bool peer, std::string& ip, int& port);

// A connection between requests: its socket, the bytes received and not yet
// processed, and how many requests it has had.
struct PendingConnection {
  socket_t sock = INVALID_SOCKET;
  std::string buffered;
  std::size_t served = 0;
  // A TLS connection: its bytes are encrypted, so the gate cannot look for
  // a request head and only waits until the client sent something (the
  // ClientHello); `buffered` stays empty.
  bool tls = false;
};

// True once `bytes` hold a request line and headers up to the blank line
// that ends them (CRLF or bare LF line ends, as cpp-httplib accepts both).
bool HasRequestHead(std::string_view bytes);

// The longest request head we wait for (431 beyond it). mehdb's requests
// need a few hundred bytes; keys are at most 511.
constexpr std::size_t kMaxRequestHeadBytes = 16384;

// httplib::Stream over a connected socket, with per-operation timeouts.
// `initial`: bytes already read from the socket (by the gate).
class SocketStream final : public ConnectionStream {
 public:
  SocketStream(socket_t sock, std::chrono::milliseconds read_timeout,
               std::chrono::milliseconds write_timeout,
               std::string initial = {})
      : sock_(sock),
        read_timeout_(read_timeout),
        write_timeout_(write_timeout),
        buf_(std::move(initial)) {}

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return sock_; }

  bool HasBuffered() const override { return begin_ < buf_.size(); }
  // Waits up to `wait` for bytes and adds what has arrived to the buffer.
  // Answers the number of bytes added: 0 when none came in time, -1 when
  // the client closed its side or the connection failed.
  ssize_t ReadMore(std::chrono::milliseconds wait);
  // The bytes HasBuffered() reports.
  std::string_view Buffered() const {
    return std::string_view(buf_).substr(begin_);
  }

 private:
  socket_t sock_;
  std::chrono::milliseconds read_timeout_;
  std::chrono::milliseconds write_timeout_;
  static constexpr std::size_t kReadChunk = 16384;  // bytes asked of one recv()
  std::string buf_;
  std::size_t begin_ = 0;
};

struct ConnectionLimits {
  std::chrono::milliseconds read_timeout;
  std::chrono::milliseconds write_timeout;
  std::chrono::milliseconds idle_timeout;
  std::size_t max_requests;
  // Gated connections: how long a worker waits for the next request head
  // after an answer before the connection goes back to the gate.
  std::chrono::milliseconds hot_wait{0};
};

// Processes one request from the stream (cpp-httplib's process_request);
// answers false when the connection cannot go on.
using RequestProcessor = std::function<bool(
    httplib::Stream& stream, bool close_connection, bool& connection_closed)>;

// Serves requests on `stream` until the client leaves, a limit is reached or
// `listener` becomes INVALID_SOCKET (the server stopped), then closes its
// socket.
void ServeConnection(ConnectionStream& stream, const ConnectionLimits& limits,
                     const std::atomic<socket_t>& listener,
                     const RequestProcessor& process);

// Serves the requests already buffered in `conn` (the first must be
// complete) over plain TCP, and those whose heads arrive within
// `limits.hot_wait` of the previous answer. Answers true when the connection
// stays open and should wait in the gate for its next request (`conn` then
// holds the leftover bytes); false when it was closed: the client left, a
// limit was reached, or `stopping` is set.
bool ServeReadyRequests(PendingConnection& conn, const ConnectionLimits& limits,
                        const std::atomic<bool>& stopping,
                        const RequestProcessor& process);

// The request loop of both without the socket: processes up to
// `max_requests` requests from `stream` while `next_ready()` says another
// request has arrived. Answers true when the last answer left a request body
// unread (the caller must then close the connection without reading on).
// The fuzzer (tests/fuzz) runs it over request bytes held in memory.
bool ServeRequests(httplib::Stream& stream, std::size_t max_requests,
                   const std::function<bool()>& next_ready,
                   const RequestProcessor& process);

// Shuts and closes a connection's socket.
void CloseConnection(socket_t sock);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_CONNECTION_H_

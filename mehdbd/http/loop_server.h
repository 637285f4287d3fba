// SPDX-License-Identifier: MIT
//
// LoopServer: cpp-httplib's Server with each accepted connection served by
// mehdbd's own connection loop (connection.h) instead of cpp-httplib's,
// over plain TCP or, when given a TLS context, over TLS (tls/stream.h).
// cpp-httplib 0.11 lets a subclass replace process_and_close_socket; the
// request parsing, routing and answer writing stay cpp-httplib's.
//
// Used by the health listener and the leader's peer listener
// (replication/peer_server.h), whose connections each keep a pool thread for
// their whole life (peer long-polls legitimately hold one), and as the base
// of the client listener, whose plain connections wait in a gate instead
// (server.cc, connection_gate.h).
#ifndef MEHDBD_HTTP_LOOP_SERVER_H_
#define MEHDBD_HTTP_LOOP_SERVER_H_

#include <httplib.h>

#include <functional>
#include <memory>

#include "http/connection.h"
#include "tls/server_context.h"

namespace mehdbd::http {

class LoopServer : public httplib::Server {
 public:
  // `tls` null: plain HTTP.
  LoopServer(ConnectionLimits limits,
             std::shared_ptr<tls::TlsServerContext> tls = nullptr)
      : limits_(limits), tls_(std::move(tls)) {}

  // cpp-httplib listens with a backlog of 5, which drops connection
  // attempts when many clients connect at once; Linux lets listen() be
  // called again to raise it. Call after binding.
  void RaiseBacklog(int backlog);

  // Serves the requests in `stream` (no socket) while `more()` says another
  // one has arrived: the fuzzer's way in (tests/fuzz).
  void ServeStream(httplib::Stream& stream, const std::function<bool()>& more);

 protected:
  // Serves the accepted connection `sock` to its end on the calling thread
  // (after the TLS handshake when the server has a TLS context), then
  // closes it. What this class runs for each connection; a subclass that
  // dispatches connections itself (server.cc) calls it for TLS ones.
  void ServeWholeConnection(socket_t sock);
  RequestProcessor Processor();
  const ConnectionLimits& limits() const { return limits_; }
  bool tls() const { return tls_ != nullptr; }

 private:
  bool process_and_close_socket(socket_t sock) override;

  const ConnectionLimits limits_;
  const std::shared_ptr<tls::TlsServerContext> tls_;
};

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_LOOP_SERVER_H_

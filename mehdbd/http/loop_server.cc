// SPDX-License-Identifier: MIT
//
// Implementation of loop_server.h.
#include "http/loop_server.h"

#include <sys/socket.h>

#include "tls/stream.h"

namespace mehdbd::http {

void LoopServer::RaiseBacklog(int backlog) {
  const socket_t sock = svr_sock_;
  if (sock != INVALID_SOCKET) (void)::listen(sock, backlog);
}

RequestProcessor LoopServer::Processor() {
  return [this](httplib::Stream& stream, bool close_connection,
                bool& connection_closed) {
    return process_request(stream, close_connection, connection_closed,
                           nullptr);
  };
}

void LoopServer::ServeStream(httplib::Stream& stream,
                             const std::function<bool()>& more) {
  (void)ServeRequests(stream, limits_.max_requests, more, Processor());
}

void LoopServer::ServeWholeConnection(socket_t sock) {
  const RequestProcessor process = Processor();
  if (tls_) {
    tls::ServeTlsConnection(sock, *tls_, limits_, svr_sock_, process);
  } else {
    SocketStream stream(sock, limits_.read_timeout, limits_.write_timeout);
    ServeConnection(stream, limits_, svr_sock_, process);
  }
}

bool LoopServer::process_and_close_socket(socket_t sock) {
  ServeWholeConnection(sock);
  return true;
}

}  // namespace mehdbd::http

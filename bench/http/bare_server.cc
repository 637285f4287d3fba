// SPDX-License-Identifier: MIT
//
// The HTTP stack's ceiling for bench/http/run.sh: cpp-httplib answering a
// fixed 1 KiB body to every GET and PUT, with nothing behind it. It is tuned
// like mehdbd (same worker count, keep-alive limit, TCP_NODELAY and listen
// backlog) so the ratio measures what mehdbd adds, not a difference in
// settings. Stock cpp-httplib listens with a backlog of 5: with 50 clients
// reconnecting every 100 requests, dropped SYNs cost a 1 s retransmit and a
// p99 in seconds, which would flatter mehdbd.
//
//   bare_http_server PORT [THREADS] [KEEP_ALIVE_REQUESTS]
#include <httplib.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

class BareServer : public httplib::Server {
 public:
  void RaiseBacklog(int backlog) {
    const socket_t sock = svr_sock_;
    if (sock != INVALID_SOCKET) (void)::listen(sock, backlog);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr
        << "usage: bare_http_server PORT [THREADS] [KEEP_ALIVE_REQUESTS]\n";
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::size_t threads =
      argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
  const std::size_t keep_alive =
      argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 100;
  std::signal(SIGPIPE, SIG_IGN);
  static const std::string kBody(1024, 'x');
  BareServer svr;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(keep_alive);
  auto answer = [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kBody, "application/octet-stream");
  };
  svr.Get(".*", answer);
  svr.Put(".*", answer);
  if (!svr.bind_to_port("127.0.0.1", port)) {
    std::cerr << "bare_http_server: cannot listen on 127.0.0.1:" << port
              << "\n";
    return 1;
  }
  svr.RaiseBacklog(1024);
  return svr.listen_after_bind() ? 0 : 1;
}

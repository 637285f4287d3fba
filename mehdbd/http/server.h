// SPDX-License-Identifier: MIT
//
// mehdbd's HTTP server: the API (api.h) on the event-driven front end
// (net/front_end.h), with the health listener beside it.
//
//   mehdbd::http::Server server(stores, identity, options);
//   int port = server.Bind("127.0.0.1", 0, error);  // 0: any free port
//   std::thread t([&] { server.Run(); });           // serves until Stop()
//   ...
//   server.Stop();                                   // from any thread
//   t.join();                                        // in-flight requests done
//
// With options.tls the listener speaks only TLS. BindHealth() adds a plain
// HTTP listener that answers only /healthz, /readyz and /metrics (the same
// handlers), so kubelet probes need no certificate; it keeps answering
// while the main listener drains and stops after it.
//
// Stop() is the graceful shutdown: /readyz fails at once, the listening
// socket closes (new connections are refused), requests being handled run
// to completion and their answers are written, connections waiting between
// requests close at once, and then Run() returns.
#ifndef MEHDBD_HTTP_SERVER_H_
#define MEHDBD_HTTP_SERVER_H_

#include <mehdb/store.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "http/api.h"
#include "http/metrics.h"
#include "http/server_options.h"
#include "config/identity.h"
#include "net/front_end.h"
#include "store/seq_watch.h"
#include "store/store_handle.h"

namespace mehdbd::http {

class Server {
 public:
  // `stores` must outlive the server.
  Server(StoreHandle& stores, Identity identity, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the client listener. Answers the port (useful with port 0) or -1
  // with `error` set.
  int Bind(const std::string& host, int port, std::string& error);

  // Binds the plain health listener (see the file comment); call before
  // Run(). Answers the port or -1 with `error` set.
  int BindHealth(const std::string& host, int port, std::string& error);

  // Serves until Stop(); call once, after a successful Bind(). Returns false
  // if the server could not run.
  bool Run();

  // Thread-safe and idempotent; see the file comment.
  void Stop();

  // True while Run() serves.
  bool IsRunning() const { return running_.load(); }

  // Serves `bytes` as one connection's input, from memory, through the
  // same framing, routes and answers as a socket connection, and answers
  // what would have been written back. For the fuzzer
  // (tests/fuzz/http_request_fuzz.cc): no sockets, thousands of inputs a
  // second. Needs no Bind() or Run().
  std::string ServeBytes(std::string_view bytes);

  const Metrics& metrics() const { return metrics_; }
  net::FrontEndStats FrontEndStats() const { return front_end_.Stats(); }

  // The routes, for wiring peer-sync state in before Run().
  Api& api() { return api_; }

 private:
  class ApiService;
  class HealthService;

  net::ConnectionLimits Limits() const;

  StoreHandle& stores_;
  const ServerOptions options_;
  Metrics metrics_;
  Api api_;
  std::unique_ptr<ApiService> api_service_;
  std::unique_ptr<HealthService> health_service_;
  net::FrontEnd front_end_;
  // While Run() serves; after front_end_ so it goes first (its waiters post
  // into the front end's loops).
  std::unique_ptr<SeqWatch> seq_watch_;
  bool bound_ = false;
  std::atomic<bool> running_{false};
};

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_SERVER_H_

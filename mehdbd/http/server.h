// SPDX-License-Identifier: MIT
//
// mehdbd's HTTP server: cpp-httplib configured for a long-running daemon
// (sized worker pool, timeouts, keep-alive limits, no SO_REUSEPORT, a
// catch-all exception handler, access log and metrics) in front of Api.
//
//   mehdbd::http::Server server(stores, identity, options);
//   int port = server.Bind("127.0.0.1", 0);     // 0: any free port
//   std::thread t([&] { server.Run(); });       // serves until Stop()
//   ...
//   server.Stop();                               // from any thread
//   t.join();                                    // in-flight requests done
//
// With options.tls the listener speaks only TLS. BindHealth() adds a plain
// HTTP listener that answers only /healthz, /readyz and /metrics (the same
// handlers), so kubelet probes need no certificate; it keeps answering
// while the main listener drains and stops after it.
//
// Stop() is the graceful shutdown: the listening socket closes at once (new
// connections are refused), requests being handled run to completion and
// their answers are written, connections waiting between requests close at
// once (TLS ones within 100 ms, see connection.h), and then Run() returns.
#ifndef MEHDBD_HTTP_SERVER_H_
#define MEHDBD_HTTP_SERVER_H_

#include <httplib.h>
#include <mehdb/store.h>

#include "store_handle.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "http/api.h"
#include "http/loop_server.h"
#include "http/metrics.h"
#include "http/server_options.h"
#include "identity.h"

namespace mehdbd::http {

class Server {
 public:
  // `store` must outlive the server.
  Server(StoreHandle& stores, Identity identity, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket. Answers the port (useful with port 0) or
  // -1 with `error` set.
  int Bind(const std::string& host, int port, std::string& error);

  // Binds the plain health listener (see the file comment); call before
  // Run(). Answers the port or -1 with `error` set.
  int BindHealth(const std::string& host, int port, std::string& error);

  // Serves until Stop(); call once, after a successful Bind(). Returns false
  // if the server could not run.
  bool Run();

  // Thread-safe and idempotent; see the file comment.
  void Stop();

  // True while the accept loop runs.
  bool IsRunning() const;

  // Serves the requests read from `stream` as one keep-alive connection's,
  // through the same request loop, hooks and routes as a socket connection,
  // while `more()` says another request follows. Needs no Bind() or Run().
  // For the fuzzer (tests/fuzz/http_request_fuzz.cc), which feeds requests
  // from memory: no sockets, so thousands of inputs a second.
  void ServeStream(httplib::Stream& stream, const std::function<bool()>& more);

  const Metrics& metrics() const { return metrics_; }

  // The routes, for wiring peer-sync state in before Run().
  Api& api() { return api_; }

 private:
  // The client listener: LoopServer with a connection gate (server.cc).
  class HttpServer;

  void Configure(LoopServer& svr);
  void RouteAll(LoopServer& svr);
  void RouteHealthOnly(LoopServer& svr);
  void OnLog(const httplib::Request& req, const httplib::Response& res);

  const ServerOptions options_;
  Metrics metrics_;
  Api api_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<LoopServer> health_;  // null unless BindHealth()

  std::mutex stop_mutex_;
  bool stop_requested_ = false;  // guarded by stop_mutex_
  bool run_started_ = false;     // guarded by stop_mutex_
  std::atomic<bool> run_finished_{false};
};

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_SERVER_H_

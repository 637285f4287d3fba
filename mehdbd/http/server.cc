// SPDX-License-Identifier: MIT
//
// Implementation of server.h: how cpp-httplib 0.11.4 (Debian 12) is set up.
//
// Thread pool: a plain client connection holds a pool thread only while one
// of its requests is being handled and for up to kHotWait (20 ms) after, in
// case its next request follows at once (busy keep-alive clients do: it
// spares them the round trip through the gate); beyond that, and while a
// request head is still arriving, it waits in the gate (connection_gate.h)
// without a thread. So the pool size is the number of requests handled at
// once, not the number of clients; further ready requests wait in the pool's
// queue. A durable PUT parks its thread in the group commit until the fsync,
// and a min_seq read parks it for up to --max-seq-wait, so the pool must be larger
// than the number of requests expected to write or wait at the same moment
// (that concurrency is also what lets group commit share one fsync among
// many writes). The default of 64 covers that for many more clients; a
// thread costs a stack (mostly untouched virtual memory) and an LMDB reader
// slot, sized to match in config_checks.cc. Slow or idle clients
// (slowloris) cost a descriptor and a small buffer in the gate, never a
// thread, and the gate's whole-head deadline bounds how long they keep even
// that.
//
// TLS connections (--tls-*) use the gate only up to their first bytes: the
// gate cannot look for a request head in encrypted bytes, and moving a
// connection between threads mid-session would mean carrying its SSL state
// through the gate and asking OpenSSL, not the socket, whether a request is
// buffered. So a TLS connection waits without a thread until its ClientHello
// arrives (a client that connects and sends nothing is closed after the
// idle timeout, holding no worker), then a worker does the handshake, bounded
// by the read timeout, and serves the connection to its end as before the
// gate: between keep-alive requests it keeps its worker for at most the idle
// timeout, and the keep-alive request limit bounds the rest. With TLS the
// pool size is therefore also the number of TLS sessions served at once.
//
// The health listener and the leader's peer listener keep LoopServer's
// thread per connection: probes are few, and a follower's long-poll holds its
// connection's thread legitimately.
#include "http/server.h"

#include <sys/socket.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "http/access_log.h"
#include "http/connection.h"
#include "http/connection_gate.h"
#include "http/errors.h"
#include "http/request_context.h"
#include "log.h"

namespace mehdbd::http {
namespace {

void BeginRequest() {
  RequestContext& ctx = CurrentRequest();
  if (!ctx.active) {
    ctx.active = true;
    ctx.start = std::chrono::steady_clock::now();
  }
}

// Waits until `svr` runs its accept loop (or gave up), then stops it:
// httplib::Server::stop() does nothing before the loop starts, and asserts
// if called twice.
void StopWhenRunning(LoopServer& svr, const std::atomic<bool>& finished) {
  while (!svr.is_running() && !finished.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (svr.is_running()) svr.stop();
}

// How long a worker waits for a keep-alive client's next request before the
// connection goes back to the gate (connection.h). Long enough for a busy
// client's next request on a loaded 2-core machine, short enough that idle
// connections cost a worker for no noticeable time.
constexpr std::chrono::milliseconds kHotWait{20};

ConnectionLimits LimitsOf(const ServerOptions& options) {
  return {options.read_timeout, options.write_timeout, options.idle_timeout,
          options.keep_alive_requests, kHotWait};
}

}  // namespace

// The client listener: a LoopServer whose accepted connections go into the
// gate instead of each onto a pool thread (see the file comment).
//
// cpp-httplib's accept loop hands each accepted socket to its task queue,
// which runs process_and_close_socket(). Our queue runs that at once on the
// accept thread, and our override only puts the socket into the gate; the
// worker pool (options.threads) then runs requests whose head has arrived,
// and TLS connections whose first bytes have.
class Server::HttpServer final : public LoopServer {
 public:
  explicit HttpServer(const ServerOptions& options)
      : LoopServer(LimitsOf(options), options.tls), options_(options) {
    new_task_queue = [] { return new InlineQueue; };
  }
  ~HttpServer() override { CloseConnections(); }

  // Starts the worker pool and the gate; call once, before the accept loop.
  // Not in the constructor: a Server that never listens (the fuzzer makes
  // one per input and calls ServeStream) needs neither threads nor an epoll
  // descriptor, nor the gate's poller to wind down.
  void Start() {
    pool_ = std::make_unique<httplib::ThreadPool>(options_.threads);
    gate_ = std::make_unique<ConnectionGate>(
        options_.idle_timeout, options_.read_timeout,
        [this](PendingConnection conn) { Dispatch(std::move(conn)); });
  }

  // Requests being handled finish; connections between requests close.
  void BeginStop() { stopping_.store(true); }

  // After the accept loop ended: closes waiting connections, then waits for
  // the workers to finish the requests they are running (TLS connections
  // notice the closed listener within 100 ms). Idempotent.
  void CloseConnections() {
    BeginStop();
    std::lock_guard<std::mutex> lock(close_mutex_);
    if (gate_) gate_->Shutdown();
    if (!pool_ || pool_closed_) return;
    pool_closed_ = true;
    pool_->shutdown();
  }

 private:
  // Runs each task on the calling (accept) thread; see the class comment.
  class InlineQueue final : public httplib::TaskQueue {
   public:
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override {}
  };

  bool process_and_close_socket(socket_t sock) override {
    if (stopping_.load() || !gate_) {
      CloseConnection(sock);
      return true;
    }
    PendingConnection conn;
    conn.sock = sock;
    conn.tls = tls();
    gate_->Add(std::move(conn));
    return true;
  }

  // Runs the connection's ready requests on a worker; a plain connection
  // that stays open goes back to the gate to wait for its next request.
  void Dispatch(PendingConnection conn) {
    pool_->enqueue([this, conn = std::move(conn)]() mutable {
      if (conn.tls) {
        if (stopping_.load()) {
          CloseConnection(conn.sock);
        } else {
          ServeWholeConnection(conn.sock);
        }
        return;
      }
      if (ServeReadyRequests(conn, limits(), stopping_, Processor())) {
        gate_->Add(std::move(conn));
      }
    });
  }

  const ServerOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex close_mutex_;
  bool pool_closed_ = false;  // guarded by close_mutex_
  // Set by Start() before the accept loop runs, then only read.
  std::unique_ptr<httplib::ThreadPool> pool_;
  std::unique_ptr<ConnectionGate> gate_;  // last: its poller dispatches into pool_
};

Server::Server(StoreHandle& stores, Identity identity, ServerOptions options)
    : options_(options),
      api_(stores, std::move(identity), options, metrics_),
      http_(std::make_unique<HttpServer>(options)) {
  // cpp-httplib sends without MSG_NOSIGNAL: a client that hangs up mid-answer
  // would kill the process with SIGPIPE. Writes then fail with EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  Configure(*http_);
  RouteAll(*http_);
}

Server::~Server() { Stop(); }

void Server::Configure(LoopServer& svr) {
  // Each listener sets its own task queue: the client listener an inline
  // one feeding the gate, the health listener a small pool.
  // Timeouts and keep-alive limits are applied by ServeConnection; the
  // keep-alive settings here only shape the Keep-Alive answer header.
  svr.set_keep_alive_timeout(
      static_cast<time_t>((options_.idle_timeout.count() + 999) / 1000));
  svr.set_keep_alive_max_count(options_.keep_alive_requests);
  // Api reads bodies itself; should cpp-httplib ever read one, the same
  // limit applies.
  svr.set_payload_max_length(options_.max_value_bytes);
  // Answers are written as headers then body; without TCP_NODELAY, Nagle's
  // algorithm and delayed ACKs can hold the body back for tens of ms.
  svr.set_tcp_nodelay(true);
  // The default sets SO_REUSEPORT, which lets a second daemon bind the same
  // port and silently take half the connections. SO_REUSEADDR only allows a
  // quick restart over TIME_WAIT sockets.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.set_exception_handler([](const httplib::Request& req,
                               httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LogError(req.method + " " + req.target.substr(0, 256) + ": " + what);
    res.headers.clear();
    AnswerText(res, 500, "internal error");
  });
  svr.set_logger([this](const httplib::Request& req,
                        const httplib::Response& res) { OnLog(req, res); });
}

void Server::RouteAll(LoopServer& svr) {
  svr.set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        // Answer before the client sends a body it would send in vain
        // (307 to the leader, 413, 404, ...); 100 asks for the body.
        BeginRequest();
        return api_.Answer(req, res, /*read_body=*/false) ? res.status : 100;
      });
  svr.set_pre_routing_handler([this](const httplib::Request& req,
                                     httplib::Response& res) {
    BeginRequest();
    return api_.Answer(req, res) ? httplib::Server::HandlerResponse::Handled
                                 : httplib::Server::HandlerResponse::Unhandled;
  });
}

void Server::RouteHealthOnly(LoopServer& svr) {
  svr.set_pre_routing_handler([this](const httplib::Request& req,
                                     httplib::Response& res) {
    BeginRequest();
    // Probes and scrapes only: the data API stays behind TLS.
    const bool probe = req.path == "/healthz" || req.path == "/readyz" ||
                       req.path == "/metrics";
    if (probe && api_.Answer(req, res)) {
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!probe) {
      AnswerText(res, 404,
                 "404 page not found (this port serves /healthz, /readyz "
                 "and /metrics only)");
      if (HasBody(req)) CloseAfterAnswer(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
}

void Server::OnLog(const httplib::Request& req, const httplib::Response& res) {
  RequestContext& ctx = CurrentRequest();
  std::chrono::nanoseconds elapsed{0};
  Route route = Route::kUnknown;
  if (ctx.active) {
    elapsed = std::chrono::steady_clock::now() - ctx.start;
    route = ctx.route;
    ctx.active = false;
  }
  metrics_.Record(route, res.status, elapsed);
  if (options_.access_log) WriteAccessLog(req, res, elapsed);
}

int Server::Bind(const std::string& host, int port, std::string& error) {
  int bound = port;
  if (port == 0) {
    bound = http_->bind_to_any_port(host);
  } else if (!http_->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0) {
    error = "cannot listen on " + host + ":" + std::to_string(port) +
            " (address in use, not local, or not permitted)";
    return -1;
  }
  http_->RaiseBacklog(1024);
  return bound;
}

int Server::BindHealth(const std::string& host, int port, std::string& error) {
  auto health = std::make_unique<LoopServer>(LimitsOf(options_));
  Configure(*health);
  // Probes come one at a time per kubelet; a few threads suffice.
  health->new_task_queue = [] { return new httplib::ThreadPool(4); };
  RouteHealthOnly(*health);
  const int bound = port == 0 ? health->bind_to_any_port(host)
                              : (health->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    error = "cannot listen for probes on " + host + ":" + std::to_string(port) +
            " (address in use, not local, or not permitted)";
    return -1;
  }
  health_ = std::move(health);
  return bound;
}

bool Server::Run() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    if (stop_requested_) return true;
    run_started_ = true;
  }
  std::atomic<bool> health_finished{false};
  std::thread health;
  if (health_) {
    health = std::thread([&] {
      health_->listen_after_bind();
      health_finished.store(true);
    });
  }
  http_->Start();
  const bool ok = http_->listen_after_bind();
  http_->CloseConnections();
  // In-flight requests are done: the probes may stop answering now.
  if (health_) {
    StopWhenRunning(*health_, health_finished);
    health.join();
  }
  run_finished_.store(true);
  return ok;
}

void Server::Stop() {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  if (stop_requested_) return;
  stop_requested_ = true;
  api_.SetDraining();
  http_->BeginStop();
  if (!run_started_) return;  // Run() will see stop_requested_ and return
  StopWhenRunning(*http_, run_finished_);
}

bool Server::IsRunning() const { return http_->is_running(); }

void Server::ServeStream(httplib::Stream& stream,
                         const std::function<bool()>& more) {
  http_->ServeStream(stream, more);
}

}  // namespace mehdbd::http

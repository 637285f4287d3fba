// SPDX-License-Identifier: MIT
//
// Implementation of server.h: how cpp-httplib 0.11.4 (Debian 12) is set up.
//
// Thread pool: a connection holds a pool thread only while one of its
// requests is being handled; between requests, and while a request head is
// still arriving, it waits in the gate (connection_gate.h) without a thread.
// So the pool size is the number of requests handled at once, not the number
// of clients; further ready requests wait in the pool's queue. A durable PUT
// parks its thread in the group commit until the fsync, and a min_seq read
// parks it for up to --max-seq-wait, so the pool must be larger than the
// number of requests expected to write or wait at the same moment (that
// concurrency is also what lets group commit share one fsync among many
// writes). The default of 64 covers that for many more clients; a thread
// costs a stack (mostly untouched virtual memory) and an LMDB reader slot,
// sized to match in config_checks.cc. Slow or idle clients (slowloris) cost
// a descriptor and a small buffer in the gate, never a thread, and the
// gate's whole-head deadline bounds how long they keep even that.
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

}  // namespace

// cpp-httplib's Server with two changes reached through its protected
// members: connections are served by our own gate and loop (connection_gate.h,
// connection.h), and the listen backlog is raised (cpp-httplib listens with a
// backlog of 5, which drops connection attempts when many clients connect at
// once; Linux lets listen() be called again to raise it).
//
// cpp-httplib's accept loop hands each accepted socket to its task queue,
// which runs process_and_close_socket(). Our queue runs that at once on the
// accept thread, and our override only puts the socket into the gate; the
// worker pool (options.threads) then runs requests whose head has arrived.
class Server::HttpServer : public httplib::Server {
 public:
  explicit HttpServer(const ServerOptions& options)
      : limits_{options.read_timeout, options.write_timeout,
                options.idle_timeout, options.keep_alive_requests},
        pool_(options.threads),
        gate_(options.idle_timeout, options.read_timeout,
              [this](PendingConnection conn) { Dispatch(std::move(conn)); }) {
    new_task_queue = [] { return new InlineQueue; };
  }
  ~HttpServer() override { CloseConnections(); }

  void RaiseBacklog(int backlog) {
    const socket_t sock = svr_sock_;
    if (sock != INVALID_SOCKET) (void)::listen(sock, backlog);
  }

  // Requests being handled finish; connections between requests close.
  void BeginStop() { stopping_.store(true); }

  // After the accept loop ended: closes waiting connections, then waits for
  // the workers to finish the requests they are running. Idempotent.
  void CloseConnections() {
    BeginStop();
    gate_.Shutdown();
    std::lock_guard<std::mutex> lock(close_mutex_);
    if (pool_closed_) return;
    pool_closed_ = true;
    pool_.shutdown();
  }

 private:
  // Runs each task on the calling (accept) thread; see the class comment.
  class InlineQueue final : public httplib::TaskQueue {
   public:
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override {}
  };

  bool process_and_close_socket(socket_t sock) override {
    if (stopping_.load()) {
      CloseConnection(sock);
      return true;
    }
    PendingConnection conn;
    conn.sock = sock;
    gate_.Add(std::move(conn));
    return true;
  }

  // Runs the connection's ready requests on a worker; a connection that
  // stays open goes back to the gate to wait for its next request.
  void Dispatch(PendingConnection conn) {
    pool_.enqueue([this, conn = std::move(conn)]() mutable {
      const RequestProcessor process = [this](httplib::Stream& stream,
                                              bool close_connection,
                                              bool& connection_closed) {
        return process_request(stream, close_connection, connection_closed,
                               nullptr);
      };
      if (ServeConnection(conn, limits_, stopping_, process)) {
        gate_.Add(std::move(conn));
      }
    });
  }

  const ConnectionLimits limits_;
  std::atomic<bool> stopping_{false};
  httplib::ThreadPool pool_;
  std::mutex close_mutex_;
  bool pool_closed_ = false;  // guarded by close_mutex_
  ConnectionGate gate_;       // last: its poller dispatches into pool_
};

Server::Server(StoreHandle& stores, Identity identity, ServerOptions options)
    : options_(options),
      api_(stores, std::move(identity), options, metrics_),
      http_(std::make_unique<HttpServer>(options)) {
  // cpp-httplib sends without MSG_NOSIGNAL: a client that hangs up mid-answer
  // would kill the process with SIGPIPE. Writes then fail with EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  Configure();
}

Server::~Server() { Stop(); }

void Server::Configure() {
  HttpServer& svr = *http_;
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

bool Server::Run() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    if (stop_requested_) return true;
    run_started_ = true;
  }
  const bool ok = http_->listen_after_bind();
  http_->CloseConnections();
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
  // Run() may not have reached its accept loop yet; httplib::Server::stop()
  // does nothing before that, and asserts if called twice, so wait for it.
  while (!http_->is_running() && !run_finished_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (http_->is_running()) http_->stop();
}

bool Server::IsRunning() const { return http_->is_running(); }

}  // namespace mehdbd::http

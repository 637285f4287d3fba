// SPDX-License-Identifier: MIT
//
// Implementation of server.h: how cpp-httplib 0.11.4 (Debian 12) is set up.
//
// Thread pool: cpp-httplib 0.11 hands each accepted connection to one pool
// thread for its whole keep-alive life, so the pool size is the number of
// connections served at once; further connections are accepted and wait in
// the pool's queue until a thread frees up. A durable PUT parks its thread in
// the group commit until the fsync, and a min_seq read parks it for up to
// --max-seq-wait, so the pool must be larger than the number of clients
// expected to write or wait at the same moment (that concurrency is also
// what lets group commit share one fsync among many writes). The default of
// 64 covers 50 busy clients with room for probes; a thread costs a stack
// (mostly untouched virtual memory) and an LMDB reader slot, sized to match
// in config_checks.cc. The idle timeout and the per-connection request limit
// bound how long one client can keep a thread, so slow or idle clients
// cannot starve the others.
#include "http/server.h"

#include <sys/socket.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "http/access_log.h"
#include "http/connection.h"
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

ConnectionLimits LimitsOf(const ServerOptions& options) {
  return {options.read_timeout, options.write_timeout, options.idle_timeout,
          options.keep_alive_requests};
}

}  // namespace

Server::Server(StoreHandle& stores, Identity identity, ServerOptions options)
    : options_(options),
      api_(stores, std::move(identity), options, metrics_),
      http_(std::make_unique<LoopServer>(LimitsOf(options), options.tls)) {
  // cpp-httplib sends without MSG_NOSIGNAL: a client that hangs up mid-answer
  // would kill the process with SIGPIPE. Writes then fail with EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  Configure(*http_);
  RouteAll(*http_);
}

Server::~Server() { Stop(); }

void Server::Configure(LoopServer& svr) {
  svr.new_task_queue = [n = options_.threads] {
    return new httplib::ThreadPool(n);
  };
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
  const bool ok = http_->listen_after_bind();
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
  if (!run_started_) return;  // Run() will see stop_requested_ and return
  StopWhenRunning(*http_, run_finished_);
}

bool Server::IsRunning() const { return http_->is_running(); }

void Server::ServeStream(httplib::Stream& stream,
                         const std::function<bool()>& more) {
  http_->ServeStream(stream, more);
}

}  // namespace mehdbd::http

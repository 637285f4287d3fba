// SPDX-License-Identifier: MIT
//
// Implementation of server.h: the API and health services and how the
// front end is set up for them.
//
// Worker pool: a connection takes a worker only while one of its requests
// is handled (net/front_end.h); waiting for bytes costs none. A durable PUT
// parks its worker in the group commit until the fsync, and a min_seq read
// parks it for up to --max-seq-wait, so the pool must be larger than the
// number of requests expected to write or wait at the same moment (that
// concurrency is also what lets group commit share one fsync among many
// writes). A thread costs a stack (mostly untouched virtual memory) and an
// LMDB reader slot, sized to match in config_checks.cc.
#include "http/server.h"

#include <csignal>

#include "http/access_log.h"
#include "http/errors.h"
#include "net/buffer_session.h"

namespace mehdbd::http {

// The client listener's service: the API, then metrics and access log.
class Server::ApiService final : public net::Service {
 public:
  ApiService(Api& api, Metrics& metrics, bool access_log)
      : api_(api), metrics_(metrics), access_log_(access_log) {}

  Admission Admit(Request& req, Response& res) override {
    return api_.Admit(req, res);
  }
  void Handle(Request& req, Response& res) override { api_.Handle(req, res); }
  void Finished(const Request& req, const Response& res,
                std::chrono::nanoseconds elapsed) override {
    // Requests refused by framing never reached routing: route "other".
    const Route route = req.tag < 0 ? Route::kUnknown : static_cast<Route>(req.tag);
    metrics_.Record(route, res.status, elapsed);
    if (access_log_) WriteAccessLog(req, res, elapsed);
  }

 private:
  Api& api_;
  Metrics& metrics_;
  const bool access_log_;
};

// The health listener's service: probes and scrapes only; the data API
// stays behind TLS.
class Server::HealthService final : public net::Service {
 public:
  HealthService(Api& api, Metrics& metrics, bool access_log)
      : api_(api, metrics, access_log) {}

  Admission Admit(Request& req, Response& res) override {
    if (req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics")
      return api_.Admit(req, res);
    AnswerText(res, 404,
               "404 page not found (this port serves /healthz, /readyz "
               "and /metrics only)");
    return Admission::kAnswered;
  }
  void Handle(Request& req, Response& res) override { api_.Handle(req, res); }
  void Finished(const Request& req, const Response& res,
                std::chrono::nanoseconds elapsed) override {
    api_.Finished(req, res, elapsed);
  }

 private:
  ApiService api_;
};

Server::Server(StoreHandle& stores, Identity identity, ServerOptions options)
    : stores_(stores),
      options_(options),
      api_(stores, std::move(identity), options, metrics_),
      api_service_(std::make_unique<ApiService>(api_, metrics_, options.access_log)),
      health_service_(
          std::make_unique<HealthService>(api_, metrics_, options.access_log)),
      front_end_(net::FrontEndOptions{options.loops, options.max_connections,
                                      options.max_buffered_bodies}) {
  // The HTTP clients (follower, cpp-httplib) send without MSG_NOSIGNAL: a
  // peer that hangs up would kill the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  api_.SetFrontEnd(&front_end_);
}

Server::~Server() { Stop(); }

net::ConnectionLimits Server::Limits() const {
  net::ConnectionLimits l;
  l.idle_timeout = options_.idle_timeout;
  l.head_timeout = options_.read_timeout;
  l.body_timeout = options_.read_timeout;
  l.tls_handshake_timeout = options_.read_timeout;
  l.write_timeout = options_.write_timeout;
  l.max_requests = options_.keep_alive_requests;
  l.max_body_bytes = options_.max_value_bytes;
  // A client sending a refused body (a follower's 307 for a big PUT) reads
  // our answer only once it is done sending: drain what it may send.
  l.linger_bytes = options_.max_value_bytes + (std::size_t{1} << 20);
  return l;
}

int Server::Bind(const std::string& host, int port, std::string& error) {
  net::ListenerOptions o;
  o.name = "api";
  o.host = host;
  o.port = port;
  o.service = api_service_.get();
  o.tls = options_.tls;
  o.limits = Limits();
  o.workers = options_.threads;
  const int bound = front_end_.Listen(o, error);
  if (bound >= 0) bound_ = true;
  return bound;
}

int Server::BindHealth(const std::string& host, int port, std::string& error) {
  net::ListenerOptions o;
  o.name = "health";
  o.host = host;
  o.port = port;
  o.service = health_service_.get();
  o.limits = Limits();
  o.workers = 2;  // probes come one at a time per kubelet
  o.outlives_drain = true;
  return front_end_.Listen(o, error);
}

bool Server::Run() {
  if (!bound_) return false;
  // Reads with min_seq park on the watch's queue instead of a worker.
  seq_watch_ = std::make_unique<SeqWatch>(stores_);
  api_.SetSeqQueue(seq_watch_->queue());
  running_.store(true);
  front_end_.Run();
  running_.store(false);
  return true;
}

void Server::Stop() {
  api_.SetDraining();
  front_end_.Stop();
}

std::string Server::ServeBytes(std::string_view bytes) {
  return net::ServeBuffer(*api_service_, bytes, Limits());
}

}  // namespace mehdbd::http

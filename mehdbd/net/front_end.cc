// SPDX-License-Identifier: MIT
//
// Implementation of front_end.h: event loops, listeners, the connection
// lists behind max_connections and graceful stop, the body budget. One
// connection's life is in connection.cc.
#include "net/front_end.h"

#include <pthread.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <condition_variable>
#include <latch>
#include <memory>
#include <thread>

#include "base/log.h"
#include "net/front_end_internal.h"

namespace mehdbd::net {
namespace {

unsigned LoopCount(unsigned wanted) {
  if (wanted > 0) return wanted;
  return std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
}

// Names a pool's threads (top -H, gdb and perf show them; Linux keeps 15
// characters): one task per thread, each held until all have started, so
// that every thread takes exactly one.
void NameThreads(asio::thread_pool& pool, unsigned threads, const std::string& name) {
  auto started = std::make_shared<std::latch>(threads);
  for (unsigned i = 0; i < threads; ++i) {
    asio::post(pool, [started, name = name.substr(0, 15)] {
      ::pthread_setname_np(::pthread_self(), name.c_str());
      started->arrive_and_wait();
    });
  }
  started->wait();
}

}  // namespace

FrontEnd::FrontEnd(FrontEndOptions options) : options_(options) {
  const unsigned n = LoopCount(options_.loops);
  for (unsigned i = 0; i < n; ++i) loops_.push_back(std::make_unique<Loop>());
}

FrontEnd::~FrontEnd() {
  Stop();
  for (auto& loop : loops_) {
    loop->work.reset();
    loop->io.stop();
    if (loop->thread.joinable()) loop->thread.join();
  }
  destroying_.store(true);
  for (auto& l : listeners_) {
    if (l->workers) l->workers->join();
    l->acceptor.reset();
    l->retry.reset();
  }
  // Connections still queued in a stopped loop are destroyed with it; their
  // Unregister finds the lists and listeners still here.
  loops_.clear();
}

FrontEnd::Loop& FrontEnd::NextLoop() {
  return *loops_[next_loop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

int FrontEnd::Listen(const ListenerOptions& options, std::string& error) {
  auto listener = std::make_unique<ListenerState>();
  listener->options = options;
  listener->loop = &NextLoop();
  const std::string where = options.host + ":" + std::to_string(options.port);
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(options.host, ec);
  if (ec) {
    asio::ip::tcp::resolver resolver(listener->loop->io);
    auto results = resolver.resolve(options.host, "", ec);
    if (ec || results.empty()) {
      error = "cannot listen on " + where + ": cannot resolve " + options.host;
      return -1;
    }
    address = results.begin()->endpoint().address();
  }
  const asio::ip::tcp::endpoint endpoint(address,
                                         static_cast<unsigned short>(options.port));
  auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(listener->loop->io);
  acceptor->open(endpoint.protocol(), ec);
  // SO_REUSEADDR: a restart binds again over connections in TIME_WAIT. Never
  // SO_REUSEPORT, which would let a second daemon share the port and take
  // half its connections.
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(1024, ec);
  // Accept() drains the backlog with non-blocking accepts.
  if (!ec) acceptor->non_blocking(true, ec);
  if (ec) {
    error = "cannot listen on " + where + " (" + options.name + "): " + ec.message();
    return -1;
  }
  const int port = acceptor->local_endpoint(ec).port();
  listener->acceptor = std::move(acceptor);
  listener->retry = std::make_unique<asio::steady_timer>(listener->loop->io);
  const unsigned workers = std::max(1u, options.workers);
  listener->workers = std::make_unique<asio::thread_pool>(workers);
  NameThreads(*listener->workers, workers, "mehdbd-" + options.name + "-w");
  listeners_.push_back(std::move(listener));
  return port;
}

void FrontEnd::Run() {
  running_.store(true);
  for (auto& l : listeners_) {
    ListenerState* state = l.get();
    asio::post(state->loop->io, [this, state] { Accept(*state); });
  }
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    Loop* lp = loops_[i].get();
    std::string name = (options_.thread_name + "-" + std::to_string(i)).substr(0, 15);
    lp->thread = std::thread([lp] { lp->io.run(); });
    ::pthread_setname_np(lp->thread.native_handle(), name.c_str());
  }
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

namespace {

// A new connection starts unless the front end is full with none idle to
// close for it (FrontEnd::HasRoom).
void Admit(FrontEnd& fe, FrontEnd::ListenerState& listener, asio::ip::tcp::socket socket) {
  if (!fe.HasRoom()) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  StartConnection(fe, listener, std::move(socket));
}

}  // namespace

void FrontEnd::Accept(ListenerState& listener) {
  if (stopping() && !listener.options.outlives_drain) return;
  if (!listener.acceptor || !listener.acceptor->is_open()) return;
  listener.acceptor->async_accept(
      NextLoop().io, [this, &listener](boost::system::error_code ec,
                                       asio::ip::tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) return AcceptFailed(listener, ec.message());
        Admit(*this, listener, std::move(socket));
        // Take every other connection already waiting in the backlog now:
        // one accept per turn of a busy loop left clients that reconnect
        // (keep-alive limits) waiting behind a whole round of requests.
        for (int i = 0; i < 64 && !stopping(); ++i) {
          asio::ip::tcp::socket next(NextLoop().io);
          boost::system::error_code again;
          listener.acceptor->accept(next, again);
          if (again == asio::error::would_block || again == asio::error::try_again) break;
          if (again) return AcceptFailed(listener, again.message());
          Admit(*this, listener, std::move(next));
        }
        Accept(listener);
      });
}

void FrontEnd::AcceptFailed(ListenerState& listener, const std::string& why) {
  // Out of descriptors (EMFILE) or the like: wait a moment rather than
  // spin; the connections already open go on.
  LogError(listener.options.name + ": accept failed: " + why);
  listener.retry->expires_after(std::chrono::milliseconds(100));
  listener.retry->async_wait([this, &listener](boost::system::error_code e) {
    if (!e) Accept(listener);
  });
}

bool FrontEnd::HasRoom() {
  if (open_.load() < options_.max_connections || ShedOldestIdle()) return true;
  shed_++;
  return false;
}

void FrontEnd::Register(const std::shared_ptr<ConnectionBase>& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  conn->all_pos = all_.insert(all_.end(), conn);
  open_++;
  conn->listener().open++;
}

void FrontEnd::Unregister(ConnectionBase* conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    all_.erase(conn->all_pos);
    if (conn->idle.load()) {
      idle_.erase(conn->idle_pos);
      conn->idle.store(false);
    }
    open_--;
    conn->listener().open--;
  }
  if (stopping() && !destroying_.load()) CheckDrained();
}

void FrontEnd::MarkIdle(ConnectionBase* conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn->idle.load()) return;
  conn->idle_pos = idle_.insert(idle_.end(), conn);
  conn->idle.store(true);
}

void FrontEnd::UnmarkIdle(ConnectionBase* conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!conn->idle.load()) return;
  idle_.erase(conn->idle_pos);
  conn->idle.store(false);
}

bool FrontEnd::ShedOldestIdle() {
  std::shared_ptr<ConnectionBase> victim;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty() && !victim) {
      ConnectionBase* oldest = idle_.front();
      idle_.pop_front();
      oldest->idle.store(false);
      victim = oldest->weak_from_this().lock();  // null: already going
    }
  }
  if (!victim) return false;
  shed_++;
  asio::post(victim->executor(), [victim] { victim->CloseIfIdle(); });
  return true;
}

bool FrontEnd::ReserveBody(std::size_t bytes) {
  std::size_t now = body_bytes_.load();
  do {
    if (bytes > options_.body_budget || now > options_.body_budget - bytes) return false;
  } while (!body_bytes_.compare_exchange_weak(now, now + bytes));
  return true;
}

void FrontEnd::ReleaseBody(std::size_t bytes) { body_bytes_.fetch_sub(bytes); }

void FrontEnd::Stop() {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  // Listeners that drain first close now; their idle connections close, and
  // the rest close after their answer (connections check stopping()).
  for (auto& l : listeners_) {
    if (l->options.outlives_drain) continue;
    ListenerState* state = l.get();
    asio::post(state->loop->io, [state] {
      boost::system::error_code ec;
      if (state->acceptor) state->acceptor->close(ec);
      state->retry->cancel();
    });
  }
  std::vector<std::shared_ptr<ConnectionBase>> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& weak : all_)
      if (auto c = weak.lock()) conns.push_back(std::move(c));
  }
  for (auto& c : conns) asio::post(c->executor(), [c] { c->CloseIfIdle(); });
  conns.clear();
  CheckDrained();
}

// Once the draining listeners have no connection left, the remaining
// (outlives_drain) listeners close too, and once nothing is left the loops
// end and Run() returns.
void FrontEnd::CheckDrained() {
  std::vector<std::shared_ptr<ConnectionBase>> last;
  bool close_last = false, finish = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t draining = 0;
    for (auto& l : listeners_)
      if (!l->options.outlives_drain) draining += l->open.load();
    if (draining > 0) return;
    if (!closed_last_) {
      closed_last_ = true;
      close_last = true;
      for (auto& weak : all_)
        if (auto c = weak.lock()) last.push_back(std::move(c));
    }
    if (open_.load() == 0 && !drain_done_) {
      drain_done_ = true;
      finish = true;
    }
  }
  if (close_last) {
    for (auto& l : listeners_) {
      if (!l->options.outlives_drain) continue;
      ListenerState* state = l.get();
      asio::post(state->loop->io, [state] {
        boost::system::error_code ec;
        if (state->acceptor) state->acceptor->close(ec);
        state->retry->cancel();
      });
    }
    for (auto& c : last) asio::post(c->executor(), [c] { c->CloseIfIdle(); });
    last.clear();
    if (!finish) {
      // The last connections may already be gone.
      std::lock_guard<std::mutex> lock(mu_);
      if (open_.load() == 0 && !drain_done_) {
        drain_done_ = true;
        finish = true;
      }
    }
  }
  if (finish) {
    for (auto& loop : loops_) loop->work.reset();
  }
}

FrontEndStats FrontEnd::Stats() const {
  FrontEndStats s;
  s.open_connections = open_.load();
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.idle_connections = idle_.size();
  }
  s.shed_connections = shed_.load();
  s.buffered_body_bytes = body_bytes_.load();
  s.budget_refusals = budget_refusals_.load();
  s.timeouts = timeouts_.load();
  s.framing_errors = framing_errors_.load();
  return s;
}

}  // namespace mehdbd::net

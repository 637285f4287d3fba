// SPDX-License-Identifier: MIT
//
// The front end's Asio-typed parts, shared by front_end.cc (loops,
// listeners, bookkeeping) and connection.cc (one connection's life).
#ifndef MEHDBD_NET_FRONT_END_INTERNAL_H_
#define MEHDBD_NET_FRONT_END_INTERNAL_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <list>
#include <memory>
#include <optional>
#include <thread>

#include "net/front_end.h"

namespace mehdbd::net {

namespace asio = boost::asio;

struct FrontEnd::Loop {
  asio::io_context io{1};  // one thread runs it: no locks between handlers
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      asio::make_work_guard(io)};
  std::thread thread;
};

struct FrontEnd::ListenerState {
  ListenerOptions options;
  Loop* loop = nullptr;  // where its acceptor runs
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> retry;  // after EMFILE and the like
  std::unique_ptr<asio::thread_pool> workers;
  std::atomic<std::size_t> open{0};  // its connections
};

// One connection, as the front end sees it. Lives in a shared_ptr held by
// its pending operations; the front end keeps weak references.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  ConnectionBase(FrontEnd& fe, FrontEnd::ListenerState& listener)
      : fe_(fe), listener_(listener) {}
  virtual ~ConnectionBase() = default;

  virtual void Start() = 0;
  // Closes the connection if it is between requests (or still sending its
  // first request's head); a request being handled finishes first. Runs on
  // the connection's loop.
  virtual void CloseIfIdle() = 0;
  virtual asio::any_io_executor executor() = 0;

  FrontEnd::ListenerState& listener() { return listener_; }

  // Bookkeeping slots owned by FrontEnd (guarded by FrontEnd::mu_).
  std::list<std::weak_ptr<ConnectionBase>>::iterator all_pos;
  std::list<ConnectionBase*>::iterator idle_pos;
  std::atomic<bool> idle{false};

 protected:
  FrontEnd& fe_;
  FrontEnd::ListenerState& listener_;
};

// Creates and starts a connection over an accepted socket (connection.cc).
void StartConnection(FrontEnd& fe, FrontEnd::ListenerState& listener,
                     asio::ip::tcp::socket socket);

}  // namespace mehdbd::net

#endif  // MEHDBD_NET_FRONT_END_INTERNAL_H_

// SPDX-License-Identifier: MIT
//
// The event-driven network front end of every mehdbd port (client, health,
// peer): Boost.Asio event loops, one per core at most, on which every
// connection is accepted, read, framed (framing.h), answered and closed.
// A thread is taken from a listener's worker pool only to run a complete
// request (Service::Handle); waiting for a client's bytes, a TLS handshake,
// writing an answer, keep-alive and lingering closes cost no thread, only a
// descriptor and a buffer, each under a deadline:
//
//   idle_timeout    between requests, until the next request's first byte
//   head_timeout    from a request's first byte to its whole head (408)
//   body            body_timeout plus the time its bytes need at
//                   body_min_rate: a client trickling a body is cut (408)
//   write           write_timeout plus the answer's size at body_min_rate
//   tls_handshake_timeout, linger (after an answer that left bytes unread)
//
// Budgets: at most max_connections open connections (past it the oldest
// idle one is closed, or the new one if none is idle), and at most
// body_budget bytes of request bodies buffered at once over all
// connections (a body that would pass it is refused with 503 and
// Retry-After before it is read).
//
//   FrontEnd fe(options);
//   int port = fe.Listen(listener_options, error);   // each port
//   std::thread t([&] { fe.Run(); });                 // until Stop()
//   fe.Stop();                                        // graceful
#ifndef MEHDBD_NET_FRONT_END_H_
#define MEHDBD_NET_FRONT_END_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/service.h"

namespace mehdbd::tls {
class TlsServerContext;
}

namespace mehdbd::net {

struct ConnectionLimits {
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds head_timeout{5000};
  std::chrono::milliseconds body_timeout{5000};
  std::size_t body_min_rate = 64 << 10;  // bytes per second
  std::chrono::milliseconds write_timeout{5000};
  std::chrono::milliseconds tls_handshake_timeout{5000};
  // After an answer sent before the request's body was read: how long, and
  // how many bytes, the connection drains before it closes.
  std::chrono::milliseconds linger{2000};
  std::size_t linger_bytes = std::size_t{17} << 20;
  std::size_t max_requests = 100;  // per connection
  std::size_t max_head_bytes = 16384;
  std::size_t max_body_bytes = std::size_t{16} << 20;
};

struct ListenerOptions {
  std::string name;  // "api", "health", "peer": for logs
  std::string host;
  int port = 0;      // 0: any free port
  Service* service = nullptr;  // must outlive the front end
  std::shared_ptr<tls::TlsServerContext> tls;  // null: plain HTTP
  ConnectionLimits limits;
  unsigned workers = 4;  // this listener's pool: requests handled at once
  // Keeps serving while the other listeners drain on Stop() and closes
  // after them (the health port: probes answer to the end).
  bool outlives_drain = false;
};

struct FrontEndOptions {
  unsigned loops = 0;  // event loops; 0: one per core, at most 4
  std::size_t max_connections = 10000;
  std::size_t body_budget = std::size_t{256} << 20;
  // The loops' thread names (top -H, gdb, perf), numbered: at most 12
  // characters, so "-N" fits Linux's 15.
  std::string thread_name = "mehdbd-loop";
};

// Counters for /metrics.
struct FrontEndStats {
  std::uint64_t open_connections = 0;
  std::uint64_t idle_connections = 0;
  std::uint64_t shed_connections = 0;   // closed or refused at max_connections
  std::uint64_t buffered_body_bytes = 0;
  std::uint64_t budget_refusals = 0;    // 503s for the body budget
  std::uint64_t timeouts = 0;           // connections cut by a deadline
  std::uint64_t framing_errors = 0;     // 400/431/501/505 from framing
};

class ConnectionBase;

class FrontEnd {
 public:
  explicit FrontEnd(FrontEndOptions options);
  ~FrontEnd();
  FrontEnd(const FrontEnd&) = delete;
  FrontEnd& operator=(const FrontEnd&) = delete;

  // Binds a listener (SO_REUSEADDR, never SO_REUSEPORT, backlog 1024,
  // TCP_NODELAY on its connections). Answers the bound port, or -1 with
  // `error` set. Call before Run().
  int Listen(const ListenerOptions& options, std::string& error);

  // Runs the event loops until Stop() has drained every connection.
  void Run();

  // Graceful stop, from any thread, idempotent: listeners close at once
  // (the outlives_drain ones last), connections between requests close,
  // requests being handled finish and their answers are written. Run()
  // returns when no connection is left.
  void Stop();

  FrontEndStats Stats() const;

  // For a new connection: true when there is room (closing the oldest idle
  // connection when at max_connections); false counts it as shed.
  bool HasRoom();

 private:
  friend class ConnectionBase;
  template <class Stream>
  friend class Connection;
 public:
  // Defined in front_end_internal.h (they carry Asio types).
  struct Loop;
  struct ListenerState;

 private:

  void Accept(ListenerState& listener);
  void AcceptFailed(ListenerState& listener, const std::string& why);
  Loop& NextLoop();
  // Connection bookkeeping (any loop thread).
  void Register(const std::shared_ptr<ConnectionBase>& conn);
  void Unregister(ConnectionBase* conn);
  void MarkIdle(ConnectionBase* conn);
  void UnmarkIdle(ConnectionBase* conn);
  bool ShedOldestIdle();
  bool ReserveBody(std::size_t bytes);
  void ReleaseBody(std::size_t bytes);
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void CheckDrained();

  const FrontEndOptions options_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<std::size_t> next_loop_{0};
  std::vector<std::unique_ptr<ListenerState>> listeners_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> destroying_{false};

  mutable std::mutex mu_;  // guards the connection lists and drain state
  std::list<std::weak_ptr<ConnectionBase>> all_;
  std::list<ConnectionBase*> idle_;  // oldest first
  std::size_t draining_left_ = 0;    // open connections of draining listeners
  bool drain_done_ = false;
  bool closed_last_ = false;

  std::atomic<std::size_t> open_{0};
  std::atomic<std::uint64_t> shed_{0};
  std::atomic<std::size_t> body_bytes_{0};
  std::atomic<std::uint64_t> budget_refusals_{0};
  std::atomic<std::uint64_t> timeouts_{0};
  std::atomic<std::uint64_t> framing_errors_{0};
};

}  // namespace mehdbd::net

#endif  // MEHDBD_NET_FRONT_END_H_

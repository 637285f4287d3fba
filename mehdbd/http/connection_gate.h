// SPDX-License-Identifier: MIT
//
// ConnectionGate: where connections wait, without a thread, until a whole
// request head has arrived. cpp-httplib 0.11 gives each connection a pool
// thread for its whole life, so a few hundred clients that open connections
// and send nothing, or send a request a byte at a time (slowloris), would
// hold every worker and the requests of everyone else would queue behind
// them. Here one thread polls all waiting connections (epoll), reads what
// they send, and hands a connection to `dispatch` (the worker pool) once its
// next request head is complete. Deadlines are whole-phase, not per read:
//
//  * a connection with nothing received closes after idle_timeout (a new one
//    as well as a kept-alive one between requests);
//  * once the first byte of a head arrives, the whole head must follow
//    within read_timeout, or the client gets 408 and the connection closes.
//    Trickling a byte now and then does not extend it.
//
// A head longer than kMaxRequestHeadBytes (connection.h) is answered 431 and
// the connection closed.
//
// A TLS connection (PendingConnection::tls) cannot be read here: its head is
// encrypted. It waits only until its first bytes (the ClientHello) arrive,
// or closes silently after idle_timeout, and is then dispatched unread; the
// worker does the handshake within read_timeout and serves the connection
// to its end (see server.cc for why).
#ifndef MEHDBD_HTTP_CONNECTION_GATE_H_
#define MEHDBD_HTTP_CONNECTION_GATE_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "http/connection.h"

namespace mehdbd::http {

class ConnectionGate {
 public:
  using Dispatch = std::function<void(PendingConnection)>;

  ConnectionGate(std::chrono::milliseconds idle_timeout,
                 std::chrono::milliseconds head_timeout, Dispatch dispatch);
  ~ConnectionGate();  // Shutdown()
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // Takes ownership of the connection's socket. Thread-safe. Dispatches at
  // once if `conn.buffered` already holds a whole head; after Shutdown()
  // the connection is closed instead.
  void Add(PendingConnection conn);

  // Closes every waiting connection and stops the poller; later Add()s
  // close their connection. Idempotent.
  void Shutdown();

  // Connections waiting in the gate now (for tests and metrics).
  std::size_t Waiting() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    PendingConnection conn;
    Clock::time_point deadline;
  };

  void Loop();
  // Reads what the connection sent; answers true once its head is complete,
  // sets `closed` if the client left. Called with mutex_ held.
  bool ReadInto(Entry& entry, bool& closed);
  // Closes a waiting connection, first sending `answer` if there is one.
  void DropLocked(int fd, std::string_view answer);

  const std::chrono::milliseconds idle_timeout_;
  const std::chrono::milliseconds head_timeout_;
  const Dispatch dispatch_;
  const int epoll_fd_;

  mutable std::mutex mutex_;
  std::unordered_map<int, Entry> waiting_;  // guarded by mutex_
  bool shut_ = false;                       // guarded by mutex_
  std::thread poller_;
};

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_CONNECTION_GATE_H_

// SPDX-License-Identifier: MIT
//
// PeerServer: the leader's side of peer sync, on its own listener (the
// same event-driven front end as the client port, net/front_end.h, with
// its own worker pool; protocol in replication/protocol.h). Serves
// change-log long-polls and snapshot streams from the live store, and
// records each follower's acknowledged seq in an AckTable, from accepted
// polls only. Every request
// is authenticated (when auth is on) before anything else; a slow or idle
// connection holds no worker.
//
// Thread safety: Start/Stop from one thread; requests run on the pool.
#ifndef MEHDBD_REPLICATION_PEER_SERVER_H_
#define MEHDBD_REPLICATION_PEER_SERVER_H_


#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "auth/authenticator.h"
#include "net/front_end.h"
#include "net/service.h"
#include "replication/ack_table.h"
#include "replication/leader_recovery.h"
#include "store/seq_watch.h"
#include "store/store_handle.h"

namespace mehdbd::replication {

struct PeerServerOptions {
  // Longest a log request may wait for new records. Below common proxy idle
  // timeouts, and the follower's read timeout is set above it.
  std::chrono::milliseconds max_wait{10000};
  std::size_t max_batch_bytes = std::size_t{4} << 20;
  // Followers are few and each holds at most one poll (plus a snapshot
  // stream while bootstrapping): a small fixed pool suffices.
  unsigned threads = 16;
  // Non-null: peers are served over TLS (the same certificate as the
  // client listener, reloaded the same way).
  std::shared_ptr<tls::TlsServerContext> tls;
  // False on a follower: it serves only snapshots (to a recovering leader,
  // leader_recovery.h); log polls get 404.
  bool serve_log = true;
};

class PeerServer {
 public:
  PeerServer(StoreHandle& stores, AckTable& acks, PeerServerOptions options);
  ~PeerServer();

  // Binds host:port (0 = any free port); answers the port or -1 with `error`.
  int Bind(const std::string& host, int port, std::string& error);
  // Every peer request must carry the token when `auth` is set (see
  // auth/authenticator.h); null = no authentication. Set before Start().
  void SetAuth(auth::Authenticator* auth) { auth_ = auth; }
  // A leader that started on an empty store: while `recovery` is active,
  // polls are offers to it and are answered 503 (leader_recovery.h). Set
  // before Start(); may be null.
  void SetRecovery(LeaderRecovery* recovery) { recovery_ = recovery; }
  // Serves on a background thread until Stop().
  void Start();
  void Stop();

 private:
  class Service;
  // A log poll; `no_wait`: answer now (a parked poll at its deadline).
  void Log(const net::Request& req, net::Response& res, bool no_wait = false);
  void Snapshot(const net::Request& req, net::Response& res);

  StoreHandle& stores_;
  AckTable& acks_;
  const PeerServerOptions options_;
  std::unique_ptr<Service> service_;
  net::FrontEnd front_end_;
  std::unique_ptr<SeqWatch> seq_watch_;  // while started: parked polls wake on it
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  auth::Authenticator* auth_ = nullptr;
  LeaderRecovery* recovery_ = nullptr;
};

}  // namespace mehdbd::replication

#endif  // MEHDBD_REPLICATION_PEER_SERVER_H_

// SPDX-License-Identifier: MIT
//
// The mehdb HTTP API: every route's behaviour, as a net::Service (see
// net/service.h for the two steps):
//
//  * Admit, on the event loop with the request head: routing in the
//    original's order (path, then key, then method), authentication, and
//    everything a PUT can be refused for without its body (a follower's
//    307, 413 from Content-Length, a malformed or failed precondition), so
//    a refused body is never read (and its connection then closes);
//  * Handle, on a worker with the whole request: the store calls. Reads
//    that never wait (a GET without min_seq, /status, the probes) are
//    answered from Admit on the loop: a lookup in LMDB's memory map costs
//    less than the two thread hand-offs a worker would.
//
// A PUT's body is stored verbatim whatever its headers say, as the
// original did (no multipart parsing, no Content-Encoding).
//
// Thread safety: Admit and Handle may run concurrently on many threads.
#ifndef MEHDBD_HTTP_API_H_
#define MEHDBD_HTTP_API_H_

#include <mehdb/store.h>

#include <atomic>
#include <string>

#include "auth/authenticator.h"
#include "http/conditions.h"
#include "http/metrics.h"
#include "http/route.h"
#include "http/server_options.h"
#include "config/identity.h"
#include "net/front_end.h"
#include "net/service.h"
#include "net/wait_queue.h"
#include "replication/ack_table.h"
#include "replication/follower.h"
#include "replication/leader_recovery.h"
#include "store/store_handle.h"

namespace mehdbd::http {

struct WatchQuery;  // watch_handlers.cc

using Request = net::Request;
using Response = net::Response;

class Api {
 public:
  Api(StoreHandle& stores, Identity identity, ServerOptions options,
      Metrics& metrics);

  // See the file comment. Admit sets req.tag to the route (for metrics).
  net::Service::Admission Admit(Request& req, Response& res);
  void Handle(Request& req, Response& res) { Serve(req, res); }

  // Where reads with min_seq park until the store's sequence moves
  // (SeqWatch); null: they wait on their worker. Set before serving.
  void SetSeqQueue(std::shared_ptr<net::WaitQueue> queue) { seq_queue_ = std::move(queue); }
  // Reads parked there now (tests catch a read while it waits).
  std::size_t ParkedReads() const { return seq_queue_ ? seq_queue_->size() : 0; }

  // Peer sync state this API reports (/readyz, /replication) and waits on
  // (acks=N). Set once before serving; either may be null.
  void SetReplication(const replication::Follower* follower,
                      replication::AckTable* acks) {
    follower_ = follower;
    acks_ = acks;
  }

  // A leader recovering its data from its followers (replication/
  // leader_recovery.h): while active, /readyz, writes and data reads answer
  // 503 with Retry-After. Set once before serving; null = never.
  void SetRecovery(const replication::LeaderRecovery* recovery) { recovery_ = recovery; }

  // Bearer-token checks (auth.h); null = no authentication. Set once
  // before serving.
  void SetAuth(auth::Authenticator* auth) { auth_ = auth; }

  // The front end whose connection counters /metrics shows (may be null).
  void SetFrontEnd(const net::FrontEnd* front_end) { front_end_ = front_end; }

  // /readyz answers 503 once draining (graceful shutdown has begun).
  void SetDraining() { draining_.store(true, std::memory_order_relaxed); }

  const Identity& identity() const { return identity_; }
  const ServerOptions& options() const { return options_; }

 private:
  net::Service::Admission AdmitSet(const Request& req, Response& res,
                                   const Target& target);
  static bool AnswersOnTheLoop(const Request& req, Route route);
  // Preconditions and acks of a write, all checked: nullopt with `error`.
  std::optional<WritePlan> PlanFor(const Request& req, std::string& error) const;

  // kv_handlers.cc
  void Write(Response& res, const Target& target,
             const WritePlan& plan, std::string_view value);
  // A PUT's answer from the store's outcome (on the store's thread).
  void AnswerWrite(Response& res, const std::string& key, const AckWait& acks,
                   const mehdb::Result<mehdb::Seq>& seq);
  void Delete(Response& res, const Target& target, const WritePlan& plan);
  // A DELETE's answer from the store's outcome (on the store's thread).
  void AnswerDelete(Response& res, const std::string& key, const WritePlan& plan,
                    const mehdb::Result<mehdb::Seq>& seq);
  void GetValue(const Request& req, Response& res, const Target& target);

  // read_handlers.cc
  void ListKeys(const Request& req, Response& res);
  void Status(const Request& req, Response& res);
  // Handle's work (const: a parked request runs it again).
  void Serve(const Request& req, Response& res);
  // Honours min_seq / X-Mehdb-Min-Seq. True when the read may go ahead;
  // false when it was answered (400, 307 to the leader, or 503) or parked
  // until the sequence arrives (the read then runs again).
  bool AwaitSeq(const Request& req, Response& res);
  void AnswerSeqNotReached(const Request& req, Response& res, mehdb::Seq wanted);

  // replication_handlers.cc: GET /replication, and acks=N on writes.
  void Replication(Response& res);
  // acks / ack_timeout of a write, every one checked before anything is
  // written: nullopt with `error` (a 400) when malformed.
  std::optional<AckWait> ParseAckWait(const Request& req, std::string& error) const;
  // Waits (parked on the ack table's queue when it has one) until
  // acks.wanted followers applied `seq` or acks.timeout passed; sets
  // X-Mehdb-Acks and 202 when fewer did.
  void AwaitAcks(const AckWait& acks, Response& res, mehdb::Seq seq);
  void ParkForAcks(const AckWait& acks, Response& res, mehdb::Seq seq,
                   std::chrono::steady_clock::time_point deadline);
  static void SetAcks(const AckWait& acks, Response& res, std::size_t got);

  // watch_handlers.cc: GET /watch, parked (no worker) until a change
  // under the prefix commits; WatchFrom runs again when it wakes.
  void Watch(const Request& req, Response& res);
  void WatchFrom(const Request& req, Response& res, const WatchQuery& query, mehdb::Seq from);

  // admin_handlers.cc
  void Healthz(Response& res);
  void Readyz(Response& res);
  void MetricsText(Response& res);
  void Backup(const Request& req, Response& res);

  // 307 to the leader with `path_and_query` appended to its base URL.
  void RedirectToLeader(Response& res,
                        const std::string& path_and_query);
  void SetAppliedSeq(Response& res, mehdb::Seq seq);

  // The live store for this request; a follower may replace it whole.
  std::shared_ptr<mehdb::Store> store() const { return stores_.Current(); }

  StoreHandle& stores_;
  const Identity identity_;
  const ServerOptions options_;
  Metrics& metrics_;
  std::atomic<bool> draining_{false};
  const replication::Follower* follower_ = nullptr;
  replication::AckTable* acks_ = nullptr;
  const replication::LeaderRecovery* recovery_ = nullptr;
  auth::Authenticator* auth_ = nullptr;
  const net::FrontEnd* front_end_ = nullptr;
  std::shared_ptr<net::WaitQueue> seq_queue_;
};

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_API_H_

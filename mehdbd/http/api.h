// SPDX-License-Identifier: MIT
//
// The mehdb HTTP API: every route's behaviour. Server (server.h) calls
// Answer() from cpp-httplib's pre-routing hook, before cpp-httplib would read
// a body, and Answer() handles the whole request there:
//
//  * a PUT's body is read by body_reader.h from the connection's stream
//    (RequestContext::stream), so its bytes are stored verbatim;
//  * everything decided without the body (404/405, a follower's 307, 413
//    from Content-Length, a failed precondition) is answered without reading
//    it, and the connection then closes (connection.h);
//  * for "Expect: 100-continue", Server first calls Answer() with
//    read_body = false: it answers those early cases before the client sends
//    the body, or returns false to let the 100 Continue go out.
//
// Answering in pre-routing is also how a PUT without Content-Length (curl -X
// PUT with no data) stores an empty value at once: cpp-httplib 0.11 would
// wait for the connection to close and answer 400.
//
// Thread safety: all methods may run concurrently on worker threads.
#ifndef MEHDBD_HTTP_API_H_
#define MEHDBD_HTTP_API_H_

#include <httplib.h>
#include <mehdb/store.h>

#include <atomic>
#include <string>

#include "http/auth.h"
#include "http/conditions.h"
#include "http/metrics.h"
#include "http/route.h"
#include "http/server_options.h"
#include "identity.h"
#include "replication/ack_table.h"
#include "replication/follower.h"
#include "store_handle.h"

namespace mehdbd::http {

class Api {
 public:
  Api(StoreHandle& stores, Identity identity, ServerOptions options,
      Metrics& metrics);

  // Answers `req` and returns true. With read_body = false it returns false
  // instead of reading a body the answer needs.
  bool Answer(const httplib::Request& req, httplib::Response& res,
              bool read_body = true);

  // Peer sync state this API reports (/readyz, /replication) and waits on
  // (acks=N). Set once before serving; either may be null.
  void SetReplication(const replication::Follower* follower,
                      replication::AckTable* acks) {
    follower_ = follower;
    acks_ = acks;
  }

  // Bearer-token checks (auth.h); null = no authentication. Set once
  // before serving.
  void SetAuth(Authenticator* auth) { auth_ = auth; }

  // /readyz answers 503 once draining (graceful shutdown has begun).
  void SetDraining() { draining_.store(true, std::memory_order_relaxed); }

  const Identity& identity() const { return identity_; }
  const ServerOptions& options() const { return options_; }

 private:
  bool Dispatch(const httplib::Request& req, httplib::Response& res,
                const Target& target, bool read_body);

  // kv_handlers.cc
  bool AnswerSet(const httplib::Request& req, httplib::Response& res,
                 const Target& target, bool read_body);
  void ReadAndWrite(const httplib::Request& req, httplib::Response& res,
                    const Target& target, const WritePlan& plan);
  void Write(httplib::Response& res, const Target& target,
             const WritePlan& plan, std::string_view value);
  void Delete(httplib::Response& res, const Target& target,
              const WritePlan& plan);
  void GetValue(const httplib::Request& req, httplib::Response& res,
                const Target& target);

  // read_handlers.cc
  void ListKeys(const httplib::Request& req, httplib::Response& res);
  void Status(const httplib::Request& req, httplib::Response& res);
  // Honours min_seq / X-Mehdb-Min-Seq. True when the read may go ahead;
  // false when it was answered (400, 307 to the leader, or 503).
  bool AwaitSeq(const httplib::Request& req, httplib::Response& res);

  // replication_handlers.cc: GET /replication, and acks=N on writes.
  void Replication(httplib::Response& res);
  // acks / ack_timeout of a write, every one checked before anything is
  // written: nullopt with `error` (a 400) when malformed.
  std::optional<AckWait> ParseAckWait(const httplib::Request& req, std::string& error) const;
  void AwaitAcks(const AckWait& acks, httplib::Response& res, mehdb::Seq seq);

  // admin_handlers.cc
  void Healthz(httplib::Response& res);
  void Readyz(httplib::Response& res);
  void MetricsText(httplib::Response& res);
  void Backup(const httplib::Request& req, httplib::Response& res);

  // 307 to the leader with `path_and_query` appended to its base URL.
  void RedirectToLeader(httplib::Response& res,
                        const std::string& path_and_query);
  void SetAppliedSeq(httplib::Response& res, mehdb::Seq seq);

  // The live store for this request; a follower may replace it whole.
  std::shared_ptr<mehdb::Store> store() const { return stores_.Current(); }

  StoreHandle& stores_;
  const Identity identity_;
  const ServerOptions options_;
  Metrics& metrics_;
  std::atomic<bool> draining_{false};
  const replication::Follower* follower_ = nullptr;
  replication::AckTable* acks_ = nullptr;
  Authenticator* auth_ = nullptr;
};

// True when the request carries a body (Content-Length > 0 or chunked).
bool HasBody(const httplib::Request& req);

// Marks the answer as the connection's last (a body was left unread).
void CloseAfterAnswer(httplib::Response& res);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_API_H_

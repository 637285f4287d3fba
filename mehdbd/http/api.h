// SPDX-License-Identifier: MIT
//
// The mehdb HTTP API: every route's behaviour, independent of how requests
// arrive. Server (server.h) feeds it from cpp-httplib in two steps, because
// cpp-httplib reads a request body before routing unless told otherwise:
//
//  1. Answer() runs before any body is read (pre-routing, and for
//     "Expect: 100-continue" before the client sends it). It answers every
//     request that needs no body: reads, deletes, redirects, 404/405, and
//     413 from Content-Length alone. Only a PUT that carries a body is left.
//  2. PutWithBody() then streams that body in, stopping at the size limit.
//
// Answering early is also how a PUT without Content-Length (curl -X PUT with
// no data) stores an empty value at once: cpp-httplib 0.11 would otherwise
// wait for the connection to close and answer 400.
//
// Thread safety: all methods may run concurrently on worker threads.
#ifndef MEHDBD_HTTP_API_H_
#define MEHDBD_HTTP_API_H_

#include <httplib.h>
#include <mehdb/store.h>

#include <atomic>
#include <string>

#include "http/conditions.h"
#include "http/metrics.h"
#include "http/route.h"
#include "http/server_options.h"
#include "identity.h"

namespace mehdbd::http {

class Api {
 public:
  Api(mehdb::Store& store, Identity identity, ServerOptions options,
      Metrics& metrics);

  // Answers `req` without reading its body and returns true, or returns
  // false for a PUT whose body must be read (then call PutWithBody).
  bool Answer(const httplib::Request& req, httplib::Response& res);

  void PutWithBody(const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader);

  // /readyz answers 503 once draining (graceful shutdown has begun).
  void SetDraining() { draining_.store(true, std::memory_order_relaxed); }

  const Identity& identity() const { return identity_; }
  const ServerOptions& options() const { return options_; }

 private:
  bool Dispatch(const httplib::Request& req, httplib::Response& res,
                const Target& target);

  // kv_handlers.cc
  bool AnswerSet(const httplib::Request& req, httplib::Response& res,
                 const Target& target);
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

  // admin_handlers.cc
  void Healthz(httplib::Response& res);
  void Readyz(httplib::Response& res);
  void MetricsText(httplib::Response& res);
  void Backup(const httplib::Request& req, httplib::Response& res);

  // 307 to the leader with `path_and_query` appended to its base URL.
  void RedirectToLeader(httplib::Response& res, const std::string& path_and_query);
  void SetAppliedSeq(httplib::Response& res, mehdb::Seq seq);

  mehdb::Store& store_;
  const Identity identity_;
  const ServerOptions options_;
  Metrics& metrics_;
  std::atomic<bool> draining_{false};
};

// True when the request carries a body (Content-Length > 0 or chunked).
bool HasBody(const httplib::Request& req);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_API_H_

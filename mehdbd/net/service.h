// SPDX-License-Identifier: MIT
//
// What a listener serves: the front end (front_end.h) frames requests and
// calls a Service in two steps, so that no thread waits for a client's
// bytes and no event loop waits for the store:
//
//   Admit   on the event loop, as soon as a request head is complete.
//           Decides everything that needs neither the body nor the store
//           (routing, authentication, redirects, 405, 413, preconditions)
//           and must not block. kReadBody asks for the body, kHandle for a
//           worker, kAnswered sends `res` at once; a declared body that is
//           not read then closes the connection after the answer.
//           kReadBodyOnLoop asks for the body and then runs Handle on the
//           event loop: for a handler that never blocks (it answers at
//           once or defers its answer, Response::Defer), sparing the two
//           thread hand-offs a worker costs.
//   Handle  on a worker thread of the listener's pool, with the whole
//           request (body included when one was read). May block on the
//           store, unless admitted with kReadBodyOnLoop.
//   Finished on the event loop after the answer went out (or failed):
//           access log and metrics.
#ifndef MEHDBD_NET_SERVICE_H_
#define MEHDBD_NET_SERVICE_H_

#include <chrono>

#include "net/message.h"

namespace mehdbd::net {

class Service {
 public:
  enum class Admission { kAnswered, kReadBody, kReadBodyOnLoop, kHandle };

  virtual ~Service() = default;
  virtual Admission Admit(Request& req, Response& res) = 0;
  virtual void Handle(Request& req, Response& res) = 0;
  virtual void Finished(const Request& req, const Response& res,
                        std::chrono::nanoseconds elapsed) {
    (void)req;
    (void)res;
    (void)elapsed;
  }
};

}  // namespace mehdbd::net

#endif  // MEHDBD_NET_SERVICE_H_

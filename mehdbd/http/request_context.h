// SPDX-License-Identifier: MIT
//
// Per-request facts the access log and metrics need after the answer is
// written: which route it was and when handling began. cpp-httplib runs a
// request from routing to logging on one worker thread and gives handlers no
// slot of their own, so a thread_local carries them; `active` marks that
// routing ran for the request being logged (requests cpp-httplib rejects
// itself, such as a malformed request line, never reach our routing).
// The connection loop (connection.h) runs on the same thread and reads
// close_connection after each request.
#ifndef MEHDBD_HTTP_REQUEST_CONTEXT_H_
#define MEHDBD_HTTP_REQUEST_CONTEXT_H_

#include <httplib.h>

#include <chrono>

#include "http/route.h"

namespace mehdbd::http {

struct RequestContext {
  bool active = false;
  Route route = Route::kUnknown;
  std::chrono::steady_clock::time_point start;
  // Set when the answer leaves a request body unread: the connection must
  // close after it (see connection.h).
  bool close_connection = false;
  // The connection's stream, from which a PUT body is read (body_reader.h),
  // and whether the current request's body has been read.
  httplib::Stream* stream = nullptr;
  bool body_consumed = false;
};

inline RequestContext& CurrentRequest() {
  thread_local RequestContext context;
  return context;
}

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_REQUEST_CONTEXT_H_

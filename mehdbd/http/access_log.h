// SPDX-License-Identifier: MIT
//
// The optional access log (--access-log): one line per answered request on
// stdout, kept apart from diagnostics on stderr so each can be collected or
// dropped on its own:
//   2026-11-30T18:04:05.123Z 127.0.0.1 "PUT /set/abc HTTP/1.1" 200 15 0.412ms
// The time is when the answer went out (UTC, as in log.h). The size is the body length, or "-" for streamed bodies.
#ifndef MEHDBD_HTTP_ACCESS_LOG_H_
#define MEHDBD_HTTP_ACCESS_LOG_H_

#include "net/message.h"

#include <chrono>

namespace mehdbd::http {

void WriteAccessLog(const net::Request& req, const net::Response& res,
                    std::chrono::nanoseconds elapsed);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_ACCESS_LOG_H_

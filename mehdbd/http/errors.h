// SPDX-License-Identifier: MIT
//
// The one table that maps a libmehdb error code to an HTTP answer, and the
// helpers that write plain-text answers. Error bodies name the problem in a
// line of text and never carry the store's own message, which can contain
// server paths (the original leaked its data path in a 500); that message
// goes to the log instead, together with what was being done.
#ifndef MEHDBD_HTTP_ERRORS_H_
#define MEHDBD_HTTP_ERRORS_H_

#include "net/message.h"
#include <mehdb/status.h>

#include <string_view>

namespace mehdbd::http {

// The HTTP status for a failed store call:
//   InvalidArgument 400, ValueTooLarge 413, NotFound 404,
//   FailedPrecondition 409, Aborted 412 (a lost compare-and-set),
//   OutOfRange 410, ResourceExhausted 507, NoSpace 507, Unavailable 503,
//   ReadOnly / DataLoss / Internal 500.
int HttpStatusFor(mehdb::Code code);

// Answers `status` with a text body "<message>\n" (net/message.h).
using net::AnswerText;

// Answers a failed store call: the status from HttpStatusFor, a body that
// explains the code, and for 5xx answers a log line with `what` (e.g.
// "PUT /set/abc") and the store's full message.
void AnswerStoreError(net::Response& res, const mehdb::Status& status,
                      std::string_view what);

// The log line alone, for failures after the answer's headers are gone
// (a streamed body cut short).
void LogStoreFailure(std::string_view what, const mehdb::Status& status);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_ERRORS_H_

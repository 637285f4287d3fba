// SPDX-License-Identifier: MIT
//
// Reads a PUT body ourselves, straight from the connection, instead of
// through cpp-httplib's content readers. Those interpret the body: they
// parse multipart/form-data (a value that is not valid multipart is
// refused with 400) and decompress Content-Encoding. mehdb stores the
// body's bytes verbatim whatever the headers say, as the original did, so
// it frames the body (Content-Length or chunked) and does nothing else.
#ifndef MEHDBD_HTTP_BODY_READER_H_
#define MEHDBD_HTTP_BODY_READER_H_

#include <httplib.h>

#include <cstddef>
#include <string>

namespace mehdbd::http {

enum class BodyResult {
  kOk,
  kTooLarge,     // more than `limit` bytes; reading stopped at the limit
  kBroken,       // cut short, timed out, or malformed chunked framing
  kUnsupported,  // a Transfer-Encoding other than chunked
};

// Reads the body of `req` from `stream` into `out` (at most `limit` bytes).
BodyResult ReadBody(httplib::Stream& stream, const httplib::Request& req,
                    std::size_t limit, std::string& out);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_BODY_READER_H_

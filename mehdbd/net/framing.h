// SPDX-License-Identifier: MIT
//
// Where one request ends and the next begins: the strict reading of
// RFC 9112 that keeps a client's bytes from ever being read as another
// request (request smuggling). No I/O here: the connection (connection.cc)
// and the fuzzer (tests/fuzz/http_request_fuzz.cc) feed it bytes.
//
// A request head is refused, and the connection must close after the
// answer, when it cannot be framed with certainty:
//   400  a request line that is not METHOD SP TARGET SP HTTP/1.x with an
//        upper-case token method and an origin-form ("/...") or "*" target;
//        a bare CR or LF; a line folded onto the previous (obs-fold);
//        whitespace before a colon; a field name that is not a token; a
//        control character in a value; Content-Length that is not one
//        decimal number (several fields or a list must all agree);
//        Content-Length together with Transfer-Encoding; HTTP/1.1 without
//        exactly one Host; more than one Host
//   431  a head longer than the limit
//   501  a Transfer-Encoding other than a single "chunked"
//   505  a version other than HTTP/1.0 and HTTP/1.1
// Bodies are framed by Boost.Beast's parser (chunked or Content-Length),
// which also enforces the size limit.
#ifndef MEHDBD_NET_FRAMING_H_
#define MEHDBD_NET_FRAMING_H_

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/message.h"

namespace mehdbd::net {

struct HeadError {
  int status;           // 400, 431, 501 or 505
  std::string message;  // one line for the answer's body
};

// How the body of a well-framed request is delimited.
struct BodyFraming {
  bool chunked = false;
  std::uint64_t length = 0;  // Content-Length when not chunked
  bool HasBody() const { return chunked || length > 0; }
};

struct HeadResult {
  enum Kind { kNeedMore, kDone, kError } kind = kNeedMore;
  std::size_t head_bytes = 0;  // kDone: bytes of the head, blank line included
  BodyFraming framing;         // kDone
  HeadError error{0, {}};      // kError
  bool keep_alive = true;      // kDone: what the client asked for
  bool expect_continue = false;  // kDone: "Expect: 100-continue"
};

// Looks for a whole request head at the start of `bytes` and, when there is
// one, fills `request` (everything but body and remote_addr). A leading
// empty line (RFC 9112 section 2.2 allows one between requests) is skipped
// and counted in head_bytes. kNeedMore while no blank line ends the head
// within `max_head_bytes`; kError (431) past that.
HeadResult ParseHead(std::string_view bytes, std::size_t max_head_bytes,
                     Request& request);

// Reads one request's body after ParseHead: feed it the bytes that follow
// the head, as they arrive.
class BodyReader {
 public:
  enum State { kNeedMore, kDone, kTooLarge, kBroken };

  // `head`: the head's bytes as ParseHead accepted them; `limit`: the most
  // body bytes accepted.
  BodyReader(std::string_view head, std::size_t limit);

  // Consumes a prefix of `bytes`; answers how much. state() says what
  // happened: kNeedMore (give it more), kDone (the body is whole; bytes not
  // consumed belong to the next request), kTooLarge or kBroken.
  std::size_t Feed(std::string_view bytes);
  State state() const { return state_; }
  // Body bytes received so far (for budgets).
  std::size_t received() const;
  // The body, once kDone.
  std::string Take();

 private:
  boost::beast::http::request_parser<boost::beast::http::string_body> parser_;
  State state_ = kNeedMore;
};

// The status line and header fields of `res` as they go on the wire, for a
// request `req` (HEAD and 1.0 shape the answer). `close`: the connection
// closes after this answer; `date`: the Date field's value.
// Streamed answers (res.provider) are sent chunked.
std::string SerializeHead(const Request& req, const Response& res, bool close,
                          std::string_view date);

// HTTP's IMF-fixdate for now ("Sun, 06 Nov 1994 08:49:37 GMT"), computed at
// most once a second per thread.
std::string_view HttpDate();

}  // namespace mehdbd::net

#endif  // MEHDBD_NET_FRAMING_H_

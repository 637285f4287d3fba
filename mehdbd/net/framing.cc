// SPDX-License-Identifier: MIT
//
// Implementation of framing.h. The head is checked line by line here, on
// the raw bytes, before anything is taken from it: the checks that decide
// framing (line ends, folding, field-name syntax, Content-Length and
// Transfer-Encoding) are the ones a lenient parser gets wrong, so they are
// not left to any parser's leniency. Beast's parser then frames the body
// from the same head.
#include "net/framing.h"

#include <ctime>

#include <boost/beast/core/buffers_to_string.hpp>

namespace mehdbd::net {
namespace {

namespace http = boost::beast::http;

// RFC 9110 section 5.6.2: tchar.
bool IsTchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

HeadResult Fail(int status, std::string message) {
  HeadResult r;
  r.kind = HeadResult::kError;
  r.error = {status, std::move(message)};
  return r;
}

// True when `value` contains `token` as one comma-separated element.
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (EqualsIgnoreCase(Trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool ParseLength(std::string_view text, std::uint64_t& out) {
  text = Trim(text);
  if (text.empty() || text.size() > 18) return false;
  std::uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = n;
  return true;
}

// The request line: METHOD SP request-target SP HTTP-version.
std::optional<HeadResult> ParseRequestLine(std::string_view line,
                                           Request& request) {
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 =
      sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return Fail(400, "malformed request line");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty()) return Fail(400, "malformed request line");
  for (char c : method) {
    const auto u = static_cast<unsigned char>(c);
    // Methods are case-sensitive and every registered one is upper case: a
    // lower-case "get" is not GET, and guessing would be misreading.
    if (!IsTchar(u) || (u >= 'a' && u <= 'z'))
      return Fail(400, "malformed method (methods are upper-case tokens)");
  }
  if (target.empty()) return Fail(400, "malformed request line");
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return Fail(400, "malformed request target");
  }
  if (target != "*" && target.front() != '/')
    return Fail(400, "request target must be a path (origin-form)");
  if (target == "*" && method != "OPTIONS")
    return Fail(400, "request target * is only for OPTIONS");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return Fail(400, "malformed HTTP version");
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return Fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  request.method.assign(method);
  request.target.assign(target);
  request.version.assign(version);
  const std::size_t q = target.find('?');
  request.path.assign(target.substr(0, q));
  request.query.clear();
  request.params.clear();
  if (q != std::string_view::npos) {
    request.query.assign(target.substr(q + 1));
    ParseQuery(request.query, request.params);
  }
  return std::nullopt;
}

}  // namespace

HeadResult ParseHead(std::string_view bytes, std::size_t max_head_bytes,
                     Request& request) {
  std::size_t start = 0;
  // One empty line before a request is tolerated (RFC 9112 section 2.2).
  if (bytes.substr(0, 2) == "\r\n") start = 2;
  const std::size_t end = bytes.find("\r\n\r\n", start);
  const std::size_t seen = end == std::string_view::npos ? bytes.size() : end + 4;
  if (seen - start > max_head_bytes)
    return Fail(431, "request head too large: the limit is " +
                         std::to_string(max_head_bytes) + " bytes");
  if (end == std::string_view::npos) {
    // A bare LF ends a head for a lenient parser; refuse it now rather than
    // wait for a CRLFCRLF that may never come.
    for (std::size_t i = start; i < bytes.size(); ++i) {
      if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r'))
        return Fail(400, "bare LF in the request head");
      if (bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] != '\n')
        return Fail(400, "bare CR in the request head");
    }
    return {};
  }
  const std::string_view head = bytes.substr(start, end + 2 - start);  // lines, each CRLF
  request.headers.Clear();
  std::size_t pos = 0;
  bool first = true;
  std::size_t lengths = 0, hosts = 0, encodings = 0;
  std::uint64_t length = 0;
  bool chunked = false;
  std::string_view connection_opts;
  std::string expect;
  while (pos < head.size()) {
    const std::size_t eol = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    for (char c : line) {
      if (c == '\r' || c == '\n') return Fail(400, "bare CR or LF in the request head");
    }
    if (first) {
      first = false;
      if (auto failed = ParseRequestLine(line, request)) return *failed;
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t')
      return Fail(400, "folded header line (obs-fold) is not accepted");
    const std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos)
      return Fail(400, "malformed header line");
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!IsTchar(static_cast<unsigned char>(c)))
        return Fail(400, "malformed header name (no whitespace before the colon)");
    }
    const std::string_view value = Trim(line.substr(colon + 1));
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && u != '\t') || u == 0x7f)
        return Fail(400, "control character in a header value");
    }
    if (EqualsIgnoreCase(name, "Content-Length")) {
      // A list ("5, 5") or repeated fields must all say the same.
      std::string_view rest = value;
      while (true) {
        const std::size_t comma = rest.find(',');
        std::uint64_t n = 0;
        if (!ParseLength(rest.substr(0, comma), n) || (lengths > 0 && n != length))
          return Fail(400, "bad Content-Length");
        length = n;
        ++lengths;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      ++encodings;
      if (encodings > 1 || !EqualsIgnoreCase(value, "chunked"))
        return Fail(501, "only Transfer-Encoding: chunked is supported");
      chunked = true;
    } else if (EqualsIgnoreCase(name, "Host")) {
      ++hosts;
    } else if (EqualsIgnoreCase(name, "Connection")) {
      connection_opts = value;
    } else if (EqualsIgnoreCase(name, "Expect")) {
      expect.assign(value);
    }
    request.headers.Add(std::string(name), std::string(value));
  }
  if (chunked && lengths > 0)
    return Fail(400, "Content-Length together with Transfer-Encoding");
  if (chunked && request.version == "HTTP/1.0")
    return Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
  if (hosts > 1) return Fail(400, "more than one Host header");
  if (hosts == 0 && request.version == "HTTP/1.1")
    return Fail(400, "HTTP/1.1 request without Host");
  HeadResult r;
  r.kind = HeadResult::kDone;
  r.head_bytes = end + 4;
  r.framing.chunked = chunked;
  r.framing.length = length;
  r.keep_alive = request.version == "HTTP/1.1"
                     ? !HasToken(connection_opts, "close")
                     : HasToken(connection_opts, "keep-alive");
  r.expect_continue = EqualsIgnoreCase(expect, "100-continue");
  return r;
}

BodyReader::BodyReader(std::string_view head, std::size_t limit) {
  parser_.header_limit(static_cast<std::uint32_t>(head.size() + 1));
  parser_.body_limit(limit);
  parser_.eager(true);
  boost::beast::error_code ec;
  // A leading empty line was skipped by ParseHead; Beast wants none.
  if (head.substr(0, 2) == "\r\n") head.remove_prefix(2);
  const std::size_t used = parser_.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec || used != head.size() || !parser_.is_header_done()) state_ = kBroken;
  else if (parser_.is_done()) state_ = kDone;
}

std::size_t BodyReader::Feed(std::string_view bytes) {
  std::size_t consumed = 0;
  while (state_ == kNeedMore && consumed < bytes.size()) {
    boost::beast::error_code ec;
    const std::size_t used = parser_.put(
        boost::asio::buffer(bytes.data() + consumed, bytes.size() - consumed), ec);
    consumed += used;
    if (ec == http::error::need_more) break;
    if (ec == http::error::body_limit) {
      state_ = kTooLarge;
    } else if (ec) {
      state_ = kBroken;
    } else if (parser_.is_done()) {
      state_ = kDone;
    } else if (used == 0) {
      break;
    }
  }
  return consumed;
}

std::size_t BodyReader::received() const { return parser_.get().body().size(); }

std::string BodyReader::Take() { return std::move(parser_.get().body()); }

std::string SerializeHead(const Request& req, const Response& res, bool close,
                          std::string_view date) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  out += ReasonPhrase(res.status);
  out += "\r\n";
  for (const auto& [name, value] : res.headers.fields()) {
    // The framing fields are ours to write, never a handler's.
    if (EqualsIgnoreCase(name, "Content-Length") ||
        EqualsIgnoreCase(name, "Transfer-Encoding") ||
        EqualsIgnoreCase(name, "Connection"))
      continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "Date: ";
  out += date;
  out += "\r\n";
  const bool no_body = res.status == 204 || res.status == 304 ||
                       (res.status >= 100 && res.status < 200);
  if (!no_body) {
    if (res.provider) {
      if (!req.IsHead()) out += "Transfer-Encoding: chunked\r\n";
    } else {
      out += "Content-Length: ";
      out += std::to_string(res.body.size());
      out += "\r\n";
    }
  }
  if (close) {
    out += "Connection: close\r\n";
  } else if (req.version == "HTTP/1.0") {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

std::string_view HttpDate() {
  thread_local std::time_t cached_at = 0;
  thread_local char text[64] = {};
  const std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_at = now;
  }
  return text;
}

}  // namespace mehdbd::net

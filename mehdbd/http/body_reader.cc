// SPDX-License-Identifier: MIT
//
// Implementation of body_reader.h (RFC 9112 section 7.1 for chunked
// framing; chunk extensions and trailer fields are read and ignored).
#include "http/body_reader.h"

#include <algorithm>
#include <cctype>

namespace mehdbd::http {
namespace {

// Reads exactly `n` bytes, appending them to `out`.
bool ReadExactly(httplib::Stream& stream, std::size_t n, std::string& out) {
  char buf[16384];
  while (n > 0) {
    const ssize_t got = stream.read(buf, std::min(n, sizeof buf));
    if (got <= 0) return false;
    out.append(buf, static_cast<std::size_t>(got));
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

// Reads one CRLF-terminated line (without the CRLF); bounded, since a line
// here is only a chunk size or a trailer field.
bool ReadLine(httplib::Stream& stream, std::string& line) {
  line.clear();
  char c = 0;
  while (line.size() < 8192) {
    if (stream.read(&c, 1) != 1) return false;
    if (c == '\n') {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return true;
    }
    line += c;
  }
  return false;
}

BodyResult ReadChunked(httplib::Stream& stream, std::size_t limit,
                       std::string& out) {
  std::string line;
  while (true) {
    if (!ReadLine(stream, line)) return BodyResult::kBroken;
    const std::string size_text = line.substr(0, line.find(';'));
    std::size_t size = 0;
    std::size_t digits = 0;
    for (char c : size_text) {
      if (c == ' ' || c == '\t') continue;
      if (!std::isxdigit(static_cast<unsigned char>(c)) || ++digits > 15) {
        return BodyResult::kBroken;
      }
      size = size * 16 +
             static_cast<std::size_t>(
                 std::isdigit(static_cast<unsigned char>(c))
                     ? c - '0'
                     : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    }
    if (digits == 0) return BodyResult::kBroken;
    if (size == 0) break;
    if (size > limit - out.size()) return BodyResult::kTooLarge;
    if (!ReadExactly(stream, size, out)) return BodyResult::kBroken;
    if (!ReadLine(stream, line) || !line.empty()) return BodyResult::kBroken;
  }
  // Trailer fields up to the empty line.
  do {
    if (!ReadLine(stream, line)) return BodyResult::kBroken;
  } while (!line.empty());
  return BodyResult::kOk;
}

}  // namespace

BodyResult ReadBody(httplib::Stream& stream, const httplib::Request& req,
                    std::size_t limit, std::string& out) {
  out.clear();
  if (req.has_header("Transfer-Encoding")) {
    std::string te = req.get_header_value("Transfer-Encoding");
    std::transform(te.begin(), te.end(), te.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (te != "chunked") return BodyResult::kUnsupported;
    return ReadChunked(stream, limit, out);
  }
  const auto length = req.get_header_value<std::uint64_t>("Content-Length");
  if (length > limit) return BodyResult::kTooLarge;
  out.reserve(static_cast<std::size_t>(length));
  return ReadExactly(stream, static_cast<std::size_t>(length), out)
             ? BodyResult::kOk
             : BodyResult::kBroken;
}

}  // namespace mehdbd::http

// SPDX-License-Identifier: MIT
//
// Implementation of message.h.
#include "net/message.h"

#include <charconv>

namespace mehdbd::net {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

void Headers::Set(std::string_view name, std::string value) {
  for (auto it = fields_.begin(); it != fields_.end();) {
    if (EqualsIgnoreCase(it->first, name)) {
      it = fields_.erase(it);
    } else {
      ++it;
    }
  }
  fields_.emplace_back(std::string(name), std::move(value));
}

const std::string* Headers::Find(std::string_view name) const {
  for (const auto& [n, v] : fields_)
    if (EqualsIgnoreCase(n, name)) return &v;
  return nullptr;
}

std::size_t Headers::Count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& field : fields_)
    if (EqualsIgnoreCase(field.first, name)) ++n;
  return n;
}

std::uint64_t Request::get_header_u64(std::string_view name) const {
  const std::string* v = headers.Find(name);
  if (v == nullptr) return 0;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size()) return 0;
  return n;
}

bool DecodeQueryComponent(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  bool ok = true;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      const int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
      const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {  // kept literally, as browsers do
        out += c;
        ok = false;
        continue;
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return ok;
}

void ParseQuery(std::string_view query,
                std::multimap<std::string, std::string>& out) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string key, value;
    DecodeQueryComponent(pair.substr(0, eq), key);
    if (eq != std::string_view::npos) DecodeQueryComponent(pair.substr(eq + 1), value);
    out.emplace(std::move(key), std::move(value));
  }
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

void AnswerText(Response& res, int status, std::string_view message) {
  res.status = status;
  std::string body(message);
  body += '\n';
  res.body = std::move(body);
  res.set_header("Content-Type", "text/plain; charset=utf-8");
}

}  // namespace mehdbd::net

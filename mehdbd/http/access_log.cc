// SPDX-License-Identifier: MIT
//
// Implementation of access_log.h. The target is printed with control
// characters escaped (it is client input and must not forge log lines), and
// one write(2) per line keeps lines whole across threads.
#include "http/access_log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "base/log.h"

namespace mehdbd::http {
namespace {

void AppendEscaped(std::string& out, std::string_view s, std::size_t max) {
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
}

}  // namespace

void WriteAccessLog(const net::Request& req, const net::Response& res,
                    std::chrono::nanoseconds elapsed) {
  std::string line = LogTimestamp(std::chrono::system_clock::now());
  line += ' ';
  line += req.remote_addr.empty() ? "-" : req.remote_addr;
  line += " \"";
  AppendEscaped(line, req.method, 16);
  line += ' ';
  AppendEscaped(line, req.target, 1024);
  line += ' ';
  AppendEscaped(line, req.version, 16);
  line += "\" ";
  line += std::to_string(res.status);
  line += ' ';
  line += res.provider ? std::string("-")
                                : std::to_string(res.body.size());
  char ms[32];
  std::snprintf(ms, sizeof ms, " %.3fms\n",
                std::chrono::duration<double, std::milli>(elapsed).count());
  line += ms;
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace mehdbd::http

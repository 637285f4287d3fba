// SPDX-License-Identifier: MIT
//
// Implementation of auth_token.h, with open/read rather than iostreams so a
// failure (a directory, a permission problem) carries its errno text.
#include "base/auth_token.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mehdbd {
namespace {

// A token is a secret, not a document: anything bigger is a wrong path.
constexpr std::size_t kMaxTokenBytes = 4096;

}  // namespace

TokenRead ReadTokenFile(const std::string& path) {
  TokenRead out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.error =
        "cannot read token file '" + path + "': " + std::strerror(errno);
    return out;
  }
  std::string text;
  char buf[1024];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.error =
          "cannot read token file '" + path + "': " + std::strerror(errno);
      ::close(fd);
      return out;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxTokenBytes) {
      out.error = "token file '" + path + "' is larger than " +
                  std::to_string(kMaxTokenBytes) + " bytes";
      ::close(fd);
      return out;
    }
  }
  ::close(fd);
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
          text.back() == '\t')) {
    text.pop_back();
  }
  if (text.empty()) {
    out.error = "token file '" + path + "' is empty";
    return out;
  }
  for (unsigned char c : text) {
    if (c <= ' ' || c >= 0x7f) {
      out.error = "token file '" + path +
                  "' must hold one word of printable ASCII (no spaces, "
                  "control characters or line breaks inside)";
      return out;
    }
  }
  out.token = std::move(text);
  return out;
}

}  // namespace mehdbd

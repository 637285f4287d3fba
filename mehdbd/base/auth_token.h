// SPDX-License-Identifier: MIT
//
// Reading a bearer token from a file, shared by the daemon (--auth-token-file)
// and the `mehdb` client (--token-file). The file is typically a key of a
// mounted Kubernetes Secret, so trailing whitespace (the newline that
// `echo token > file` leaves) is dropped. What remains must be one word of
// printable ASCII: it travels in an "Authorization: Bearer" header, where
// spaces, control bytes and non-ASCII cannot be carried faithfully.
#ifndef MEHDBD_BASE_AUTH_TOKEN_H_
#define MEHDBD_BASE_AUTH_TOKEN_H_

#include <string>

namespace mehdbd {

struct TokenRead {
  std::string token;  // set when error is empty
  std::string error;  // why the file cannot serve as a token
};

// Reads and checks the token in `path` (following symlinks). Never throws.
TokenRead ReadTokenFile(const std::string& path);

}  // namespace mehdbd

#endif  // MEHDBD_BASE_AUTH_TOKEN_H_

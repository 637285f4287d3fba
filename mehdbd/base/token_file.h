// SPDX-License-Identifier: MIT
//
// TokenFile: the daemon's shared secret, read from --auth-token-file and
// kept current while the daemon runs. In Kubernetes the file is a key of a
// mounted Secret, which the kubelet updates by writing a new directory and
// flipping the `..data` symlink, so the path is stat()ed again (following
// symlinks) rather than an open descriptor watched: a changed device, inode,
// size, mtime or ctime means "read it again". The stat happens at most once
// per `recheck` interval, on the request that needs the token.
//
// A token that becomes unreadable or invalid later is not a reason to stop
// serving or to open the door: the last good token stays in force and one
// warning is logged until a good token is read again.
//
// Comparison is constant-time over SHA-256 digests (OpenSSL CRYPTO_memcmp),
// so neither the token's bytes nor its length leak through timing.
//
// Thread safety: all methods may be called concurrently.
#ifndef MEHDBD_BASE_TOKEN_FILE_H_
#define MEHDBD_BASE_TOKEN_FILE_H_

#include <sys/types.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace mehdbd {

class TokenFile {
 public:
  using Digest = std::array<unsigned char, 32>;  // SHA-256

  // Reads `path` now. nullptr with `error` set when it is not a usable token
  // (start-up refuses to run without one).
  static std::unique_ptr<TokenFile> Open(
      const std::string& path, std::string& error,
      std::chrono::milliseconds recheck = std::chrono::seconds(1));

  // The token in force (for sending it to a peer).
  std::string Current() const;

  // True when `presented` equals the token in force; constant-time.
  bool Matches(std::string_view presented) const;

  const std::string& path() const { return path_; }

 private:
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    long long mtime_ns = 0;
    long long ctime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  struct Token {
    std::string value;
    Digest digest;
  };

  TokenFile(std::string path, std::chrono::milliseconds recheck);
  // Re-stats the file if `recheck` has passed and reloads it if it changed.
  // Answers the token in force. Takes mu_.
  std::shared_ptr<const Token> Refresh() const;
  static std::shared_ptr<const Token> MakeToken(std::string value);
  static bool Stat(const std::string& path, FileId& id);

  const std::string path_;
  const std::chrono::milliseconds recheck_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<const Token> token_;           // guarded by mu_
  mutable FileId seen_;                                  // guarded by mu_
  mutable std::chrono::steady_clock::time_point next_;   // guarded by mu_
  mutable bool complained_ = false;                      // guarded by mu_
};

}  // namespace mehdbd

#endif  // MEHDBD_BASE_TOKEN_FILE_H_

// SPDX-License-Identifier: MIT
//
// Implementation of token_file.h.
#include "base/token_file.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/auth_token.h"
#include "base/log.h"

namespace mehdbd {
namespace {

TokenFile::Digest Sha256(std::string_view text) {
  TokenFile::Digest digest{};
  unsigned int length = 0;
  // EVP_Digest only fails on allocation failure; a zero digest then matches
  // nothing real, since the stored token's digest is computed the same way
  // and checked below.
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length,
                 EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    digest.fill(0);
  }
  return digest;
}

long long Nanoseconds(const timespec& ts) {
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

TokenFile::TokenFile(std::string path, std::chrono::milliseconds recheck)
    : path_(std::move(path)), recheck_(recheck) {}

std::unique_ptr<TokenFile> TokenFile::Open(const std::string& path,
                                           std::string& error,
                                           std::chrono::milliseconds recheck) {
  std::unique_ptr<TokenFile> file(new TokenFile(path, recheck));
  // Stat before reading: a change between the two is then seen as a change
  // at the next check instead of being missed.
  (void)Stat(path, file->seen_);
  TokenRead read = ReadTokenFile(path);
  if (!read.error.empty()) {
    error = read.error;
    return nullptr;
  }
  file->token_ = MakeToken(std::move(read.token));
  if (!file->token_) {
    error = "cannot compute the token's SHA-256 digest";
    return nullptr;
  }
  file->next_ = std::chrono::steady_clock::now() + recheck;
  return file;
}

std::shared_ptr<const TokenFile::Token> TokenFile::MakeToken(std::string value) {
  auto token = std::make_shared<Token>();
  token->digest = Sha256(value);
  if (token->digest == Digest{}) return nullptr;
  token->value = std::move(value);
  return token;
}

bool TokenFile::Stat(const std::string& path, FileId& id) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = Nanoseconds(st.st_mtim);
  id.ctime_ns = Nanoseconds(st.st_ctim);
  return true;
}

std::shared_ptr<const TokenFile::Token> TokenFile::Refresh() const {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return token_;
  next_ = now + recheck_;
  FileId id;
  if (!Stat(path_, id)) {
    const int err = errno;
    if (!complained_) {
      LogWarning("auth token file " + path_ + ": " + std::strerror(err) +
                 "; keeping the last token read");
      complained_ = true;
    }
    seen_ = FileId{};  // so the file's return counts as a change
    return token_;
  }
  if (id == seen_) return token_;
  seen_ = id;
  TokenRead read = ReadTokenFile(path_);
  std::shared_ptr<const Token> fresh =
      read.error.empty() ? MakeToken(std::move(read.token)) : nullptr;
  if (!fresh) {
    if (!complained_) {
      LogWarning(
          (read.error.empty() ? "auth token file " + path_ + ": no digest"
                              : read.error) +
          "; keeping the last token read");
      complained_ = true;
    }
    return token_;
  }
  if (fresh->digest != token_->digest) {
    LogInfo("auth token file " + path_ + " changed: the new token is in force");
  }
  token_ = std::move(fresh);
  complained_ = false;
  return token_;
}

std::string TokenFile::Current() const { return Refresh()->value; }

bool TokenFile::Matches(std::string_view presented) const {
  const std::shared_ptr<const Token> token = Refresh();
  const Digest digest = Sha256(presented);
  return CRYPTO_memcmp(digest.data(), token->digest.data(), digest.size()) == 0;
}

}  // namespace mehdbd

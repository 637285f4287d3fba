// SPDX-License-Identifier: MIT
//
// Implementation of server_context.h.
#include "tls/server_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

namespace mehdbd::tls {
namespace {

// OpenSSL's own message for an unreadable file is "system lib"; say it.
std::optional<std::string> Unreadable(const std::string& file) {
  if (::access(file.c_str(), R_OK) == 0) return std::nullopt;
  return "cannot read '" + file + "'";
}

}  // namespace

std::string TakeOpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::shared_ptr<SSL_CTX> LoadServerContext(const std::string& cert_file,
                                           const std::string& key_file,
                                           std::string& error) {
  for (const std::string* file : {&cert_file, &key_file}) {
    if (auto e = Unreadable(*file)) {
      error = *e;
      return nullptr;
    }
  }
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) {
    error = "cannot create a TLS context: " + TakeOpenSslError();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Writes are retried with the same arguments after WANT_WRITE; the
  // buffer may still move (std::string growth), which OpenSSL must allow.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A client that closes without close_notify has simply left (as with
  // plain TCP); OpenSSL 3 would otherwise report it as an error.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    error = "no PEM certificate in '" + cert_file + "': " + TakeOpenSslError();
    return nullptr;
  }
  const bool key_loaded = SSL_CTX_use_PrivateKey_file(
                              ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  // Loading the key already compares it with the certificate.
  const bool mismatch =
      (!key_loaded &&
       ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) ||
      (key_loaded && SSL_CTX_check_private_key(ctx.get()) != 1);
  if (!key_loaded && !mismatch) {
    error = "no PEM private key in '" + key_file + "': " + TakeOpenSslError();
    return nullptr;
  }
  if (mismatch) {
    ERR_clear_error();
    error = "the key in '" + key_file + "' does not match the certificate in '" +
            cert_file + "'";
    return nullptr;
  }
  return ctx;
}

std::optional<std::string> CheckCaFile(const std::string& ca_file) {
  if (auto e = Unreadable(ca_file)) return e;
  ERR_clear_error();
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(
      X509_STORE_new(), X509_STORE_free);
  if (!store || X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
    return "no PEM certificate in '" + ca_file + "': " + TakeOpenSslError();
  }
  return std::nullopt;
}

TlsServerContext::TlsServerContext(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

std::unique_ptr<TlsServerContext> TlsServerContext::Create(
    std::string cert_file, std::string key_file, std::string& error) {
  std::unique_ptr<TlsServerContext> tls(
      new TlsServerContext(std::move(cert_file), std::move(key_file)));
  // Stat before loading: a change between the two is then seen as a change.
  tls->seen_ = tls->Stat();
  tls->current_ = LoadServerContext(tls->cert_file_, tls->key_file_, error);
  if (!tls->current_) return nullptr;
  tls->next_check_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  return tls;
}

TlsServerContext::FilesId TlsServerContext::Stat() const {
  FilesId id;
  struct stat st {};
  // stat() follows symlinks: a Secret volume swaps its ..data link, which
  // changes the inode even when sizes and times happen to match.
  if (::stat(cert_file_.c_str(), &st) == 0) {
    id.cert_ino = st.st_ino;
    id.cert_size = st.st_size;
    id.cert_mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  }
  if (::stat(key_file_.c_str(), &st) == 0) {
    id.key_ino = st.st_ino;
    id.key_size = st.st_size;
    id.key_mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  }
  return id;
}

std::shared_ptr<SSL_CTX> TlsServerContext::ForNewConnection() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_check_) return current_;
  next_check_ = now + std::chrono::seconds(1);
  const FilesId id = Stat();
  if (id == seen_) return current_;
  // Remember the new identity whether or not it loads, so a bad pair is
  // reported once, not once a second.
  seen_ = id;
  std::string error;
  if (auto fresh = LoadServerContext(cert_file_, key_file_, error)) {
    current_ = std::move(fresh);
    reloads_.fetch_add(1);
    LogInfo("TLS: loaded the changed certificate " + cert_file_);
  } else {
    LogError("TLS: keeping the previous certificate; reload failed: " + error);
  }
  return current_;
}

}  // namespace mehdbd::tls

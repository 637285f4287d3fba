// SPDX-License-Identifier: MIT
//
// The server side of TLS: an OpenSSL SSL_CTX built from a PEM certificate
// chain and key (--tls-cert, --tls-key), shared by the client and peer
// listeners, and rebuilt when the files change on disk.
//
//   std::string error;
//   auto tls = TlsServerContext::Create(cert, key, error);  // null + error
//   std::shared_ptr<SSL_CTX> ctx = tls->ForNewConnection();
//
// Reload: cert-manager (and kubelet's Secret volumes) replace the files in
// place. ForNewConnection() looks at the files' identity (inode, size,
// mtime) at most once per second and, when it changed, builds a new
// SSL_CTX. Connections already open keep the context they started with
// (the shared_ptr keeps it alive). A reload that fails (bad PEM, key and
// certificate from different pairs, half-written files) keeps the old
// context and logs one line; the next change of the files tries again.
//
// Thread safety: ForNewConnection() may be called from any thread.
#ifndef MEHDBD_TLS_SERVER_CONTEXT_H_
#define MEHDBD_TLS_SERVER_CONTEXT_H_

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace mehdbd::tls {

// Builds a server SSL_CTX from `cert_file` (PEM chain, leaf first) and
// `key_file` (PEM). Null with `error` set to one line naming the file and
// the reason (unreadable, not PEM, key does not match the certificate).
std::shared_ptr<SSL_CTX> LoadServerContext(const std::string& cert_file,
                                           const std::string& key_file,
                                           std::string& error);

// Checks that `ca_file` holds at least one PEM certificate OpenSSL accepts
// as a trust anchor. nullopt when it does, else the reason.
std::optional<std::string> CheckCaFile(const std::string& ca_file);

// The text of the oldest error in this thread's OpenSSL error queue (empty
// if none), clearing the queue.
std::string TakeOpenSslError();

class TlsServerContext {
 public:
  static std::unique_ptr<TlsServerContext> Create(std::string cert_file,
                                                  std::string key_file,
                                                  std::string& error);

  // The context a newly accepted connection should use.
  std::shared_ptr<SSL_CTX> ForNewConnection();

  // Successful reloads since Create (for tests and logs).
  std::uint64_t reloads() const { return reloads_.load(); }

 private:
  // What identifies the files' current contents without reading them.
  struct FilesId {
    bool operator==(const FilesId&) const = default;
    unsigned long long cert_ino = 0, key_ino = 0;
    long long cert_size = -1, key_size = -1;
    long long cert_mtime_ns = 0, key_mtime_ns = 0;
  };
  TlsServerContext(std::string cert_file, std::string key_file);
  FilesId Stat() const;

  const std::string cert_file_, key_file_;
  std::mutex mu_;
  std::shared_ptr<SSL_CTX> current_;                    // guarded by mu_
  FilesId seen_;                                        // guarded by mu_
  std::chrono::steady_clock::time_point next_check_{};  // guarded by mu_
  std::atomic<std::uint64_t> reloads_{0};
};

}  // namespace mehdbd::tls

#endif  // MEHDBD_TLS_SERVER_CONTEXT_H_

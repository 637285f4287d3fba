// SPDX-License-Identifier: MIT
//
// Implementation of client.h. cpp-httplib 0.11 checks the chain and the
// host name together after the handshake (and only then reports the
// X509 verify result); it has no switch for the host name alone. Without
// the host name, its own check is turned off and OpenSSL is told to verify
// the chain during the handshake instead (SSL_VERIFY_PEER on the context),
// which fails the connection the same way.
#include "tls/client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace mehdbd::tls {

void ConfigureClient(httplib::Client& client, const ClientTls& tls) {
  SSL_CTX* ctx = client.ssl_context();
  if (ctx == nullptr) return;  // plain http://
  if (tls.verify_hostname) {
    if (!tls.ca_file.empty()) client.set_ca_cert_path(tls.ca_file);
    client.enable_server_certificate_verification(true);
    return;
  }
  client.enable_server_certificate_verification(false);
  if (tls.ca_file.empty()) {
    SSL_CTX_set_default_verify_paths(ctx);
  } else {
    SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
}

std::string DescribeError(const httplib::Client& client, httplib::Error error) {
  // cpp-httplib names its errors like enumerators; say what they mean.
  switch (error) {
    case httplib::Error::SSLServerVerification: {
      const long result = client.get_openssl_verify_result();
      return std::string("server certificate verification failed: ") +
             (result != X509_V_OK ? X509_verify_cert_error_string(result)
                                  : "it does not name this host");
    }
    case httplib::Error::SSLConnection:
      return "TLS handshake failed (untrusted certificate, or not a TLS "
             "server)";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the CA certificates";
    default:
      return httplib::to_string(error);
  }
}

}  // namespace mehdbd::tls

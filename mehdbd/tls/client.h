// SPDX-License-Identifier: MIT
//
// The client side of TLS, for the follower's connection to its leader's
// peer port: which certificates to trust (--tls-ca, else the system's
// store) and whether the leader's certificate must also name the host the
// URL names (default yes; --tls-verify-hostname=false keeps only the chain
// check, for leaders reached by an address their certificate lacks).
#ifndef MEHDBD_TLS_CLIENT_H_
#define MEHDBD_TLS_CLIENT_H_

#include <httplib.h>

#include <string>

namespace mehdbd::tls {

struct ClientTls {
  std::string ca_file;  // PEM trust anchors; empty: the system's store
  bool verify_hostname = true;
};

// Sets up certificate verification on `client`; nothing to do for an
// http:// client. Call before the first request.
void ConfigureClient(httplib::Client& client, const ClientTls& tls);

// A failed request's error, with the certificate problem when there was
// one ("SSL server verification failed: certificate has expired").
std::string DescribeError(const httplib::Client& client, httplib::Error error);

}  // namespace mehdbd::tls

#endif  // MEHDBD_TLS_CLIENT_H_

// SPDX-License-Identifier: MIT
//
// The HTTP layer's knobs, taken from the daemon's Config (or set directly by
// tests that run a server in-process).
#ifndef MEHDBD_HTTP_SERVER_OPTIONS_H_
#define MEHDBD_HTTP_SERVER_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <memory>

#include "config.h"
#include "http/key_rule.h"

namespace mehdbd::tls {
class TlsServerContext;
}

namespace mehdbd::http {

struct ServerOptions {
  KeyRule key_rule = KeyRule::kExtended;
  // Worker threads: the number of requests handled at once. Plain
  // connections wait for their next request head without a thread
  // (connection_gate.h); ready requests beyond this wait in the pool's
  // queue. A TLS connection keeps its worker from its handshake to its end
  // (server.cc), so with TLS this is also the number of sessions served.
  unsigned threads = 64;
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  std::chrono::milliseconds idle_timeout{5000};
  unsigned keep_alive_requests = 100;
  std::size_t max_value_bytes = std::size_t{16} << 20;
  std::chrono::milliseconds max_seq_wait{1000};
  std::chrono::milliseconds max_ack_wait{10000};  // acks=N on writes
  bool access_log = false;
  // GET /keys answers stores up to this many keys from one buffer (with a
  // Content-Length); larger ones are streamed in chunks so a listing never
  // holds more than a page of keys in memory.
  std::size_t list_buffer_keys = 65536;
  // Non-null: the client listener speaks TLS with this context (loaded by
  // main() from --tls-cert/--tls-key, since loading can fail).
  std::shared_ptr<tls::TlsServerContext> tls;

  static ServerOptions FromConfig(const Config& config) {
    ServerOptions o;
    o.key_rule = config.key_rule;
    o.threads = config.threads;
    o.read_timeout = config.read_timeout;
    o.write_timeout = config.write_timeout;
    o.idle_timeout = config.idle_timeout;
    o.keep_alive_requests = config.keep_alive_requests;
    o.max_value_bytes = config.store.max_value_bytes;
    o.max_seq_wait = config.max_seq_wait;
    o.max_ack_wait = config.max_ack_wait;
    o.access_log = config.access_log;
    return o;
  }
};

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_SERVER_OPTIONS_H_

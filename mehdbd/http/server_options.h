// SPDX-License-Identifier: MIT
//
// The HTTP layer's knobs, taken from the daemon's Config (or set directly by
// tests that run a server in-process).
#ifndef MEHDBD_HTTP_SERVER_OPTIONS_H_
#define MEHDBD_HTTP_SERVER_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <memory>

#include "config/config.h"
#include "base/key_rule.h"

namespace mehdbd::tls {
class TlsServerContext;
}

namespace mehdbd::http {

struct ServerOptions {
  KeyRule key_rule = KeyRule::kExtended;
  // Worker threads: the number of requests handled at once. Connections
  // wait for their bytes without a thread (net/front_end.h); complete
  // requests beyond this wait in the pool's queue.
  unsigned threads = 64;
  unsigned loops = 0;  // event loops; 0: one per core, at most 4
  std::size_t max_connections = 10000;
  std::size_t max_buffered_bodies = std::size_t{256} << 20;
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
    o.loops = config.event_loops;
    o.max_connections = config.max_connections;
    o.max_buffered_bodies = config.max_buffered_bodies;
    o.max_value_bytes = config.store.max_value_bytes;
    o.max_seq_wait = config.max_seq_wait;
    o.max_ack_wait = config.max_ack_wait;
    o.access_log = config.access_log;
    return o;
  }
};

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_SERVER_OPTIONS_H_

// SPDX-License-Identifier: MIT
//
// Fuzz target: raw HTTP request bytes through the daemon's real request
// path: the front end's framing (net/framing.h: the strict head parser and
// Beast's body parser), the connection's order of decisions (via
// Server::ServeBytes, net/buffer_session.h), the route table and the
// handlers, over a real store in a temp dir, with a fresh Server (and so
// fresh metrics) for every input.
//
// The store is one per process, emptied before each input: opening an LMDB
// environment costs megabytes of zeroed memory (LMDB's dirty-page lists),
// which under ASan is mapped and unmapped every time and held the target to
// a few dozen inputs a second. An input therefore meets no keys from the
// inputs before it, only a higher sequence number.
//
// Why memory instead of a socket: the bytes take the same path after the
// socket read, and nothing waits on timeouts, so the target runs thousands
// of inputs a second instead of being bound by the kernel.
//
// Input: one setup byte, then the bytes a client sends on one connection
// (several pipelined requests are fine). Setup bits: 0 = the original key
// rule, 1 = a follower (writes answer 307). Properties: nothing crashes or
// leaks, no answer is a 500 (a 500 means an exception or a store failure,
// and a healthy store in a temp dir has none), and what the server wrote
// begins with a status line.
#include <cstring>
#include <memory>

#include "fuzz_support.h"
#include "http/metrics.h"
#include "http/server.h"
#include "config/identity.h"
#include "base/log.h"
#include "store/store_handle.h"

namespace {

mehdb::Options StoreOptions() {
  mehdb::Options o;
  o.durability = mehdb::Durability::kNoSync;
  o.map_bytes = std::uint64_t{1} << 20;  // small, so inputs can make it grow
  o.max_map_bytes = std::uint64_t{64} << 20;
  o.max_value_bytes = 64 << 10;
  o.log_retain_entries = 64;
  return o;
}

mehdbd::http::ServerOptions HttpOptions(std::uint8_t setup) {
  mehdbd::http::ServerOptions o;
  o.key_rule = (setup & 1) ? mehdbd::KeyRule::kOriginal
                           : mehdbd::KeyRule::kExtended;
  o.max_value_bytes = StoreOptions().max_value_bytes;
  o.keep_alive_requests = 16;
  // Reads that ask for a future seq answer at once instead of waiting.
  o.max_seq_wait = std::chrono::milliseconds(0);
  o.max_ack_wait = std::chrono::milliseconds(0);
  // A handful of keys is enough to reach the streamed /keys listing.
  o.list_buffer_keys = 2;
  return o;
}

mehdbd::Identity IdentityFor(std::uint8_t setup) {
  mehdbd::Identity id;
  id.set = "mehdb";
  if (setup & 2) {
    id.role = mehdbd::Role::kFollower;
    id.host = "mehdb-1";
    id.ordinal = 1;
    id.leader_url = "http://mehdb-0.mehdb.default.svc.cluster.local:9876";
  } else {
    id.role = mehdbd::Role::kLeader;
    id.host = "mehdb-0";
    id.ordinal = 0;
  }
  return id;
}

std::uint64_t Count500(const mehdbd::http::Metrics& metrics) {
  std::uint64_t n = 0;
  for (int r = 0; r < mehdbd::http::kRouteCount; ++r)
    n += metrics.Count(static_cast<mehdbd::http::Route>(r), 500);
  return n;
}

mehdbd::StoreHandle& SharedStore() {
  static const std::unique_ptr<mehdbd::StoreHandle> stores = [] {
    auto opened = mehdbd::StoreHandle::Open(mehdb_fuzz::FreshPath("http"),
                                            StoreOptions());
    if (!opened.ok())
      mehdb_fuzz::Fail("opening the store: " + opened.status().ToString());
    return std::move(*opened);
  }();
  return *stores;
}

// Erases every key, so each input starts from an empty store.
void Empty(mehdb::Store& store) {
  mehdb::Batch batch;
  std::size_t keys = 0;
  const mehdb::Status listed =
      store.ForEach({}, [&](std::string_view key, std::string_view, mehdb::Seq) {
        batch.Erase(key);
        ++keys;
        return true;
      });
  if (!listed.ok()) mehdb_fuzz::Fail("listing keys: " + listed.ToString());
  if (keys == 0) return;
  if (auto written = store.Write(batch); !written.ok())
    mehdb_fuzz::Fail("emptying the store: " + written.status().ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  static const bool quiet = [] {
    mehdbd::SetLogQuiet(true);
    return true;
  }();
  (void)quiet;
  mehdb_fuzz::InputReader input(data, size);
  const std::uint8_t setup = input.Byte();
  mehdbd::StoreHandle& stores = SharedStore();
  Empty(*stores.Current());
  mehdbd::http::Server server(stores, IdentityFor(setup), HttpOptions(setup));
  const std::string out = server.ServeBytes(input.Rest());
  if (Count500(server.metrics()) != 0)
    mehdb_fuzz::Fail("an answer was 500:\n" + out.substr(0, 4096));
  if (!out.empty() && !out.starts_with("HTTP/1.1 "))
    mehdb_fuzz::Fail("the answer is not HTTP:\n" + out.substr(0, 4096));
  return 0;
}

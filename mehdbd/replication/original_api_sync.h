// SPDX-License-Identifier: MIT
//
// OriginalApiSync: following a leader that runs the original mehdb 0.6,
// which has no peer protocol, through its client API (ORIGINAL_API.md):
// `GET /keys`, then `GET /get/{key}`. This is what a follower does during a
// rolling upgrade from the tutorial's StatefulSet, while mehdb-0 still runs
// the original.
//
// The original's API has no versions or change feed, so a changed value can
// only be seen by downloading it again. One cycle therefore costs, at most:
//   - one `GET /keys` (every key name; capped at kMaxKeyListBytes),
//   - one local scan of this store's keys,
//   - max_gets value downloads holding at most max_bytes bytes:
//     first keys the leader has and we do not, then a rotating share of
//     the keys we both have (the round-robin cursor carries over cycles).
// Deletions (keys we have and the leader does not list) apply every cycle.
// With N keys a change to an existing value is seen within ceil(N /
// max_gets) cycles; new keys and deletions within one (unless more than
// max_gets keys are new at once). Changes are written in batches of about
// max_batch_bytes, each applied whole. Answers other than 200 (404 for a
// key deleted meanwhile) are errors, never stored as values.
//
// Thread safety: one object, one thread (the follower's).
#ifndef MEHDBD_REPLICATION_ORIGINAL_API_SYNC_H_
#define MEHDBD_REPLICATION_ORIGINAL_API_SYNC_H_

#include <httplib.h>
#include <mehdb/store.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "tls/client.h"
#include "base/token_file.h"

namespace mehdbd::replication {

struct OriginalApiLimits {
  std::size_t max_gets = 1000;                        // value downloads per cycle
  std::size_t max_bytes = std::size_t{64} << 20;      // value bytes per cycle
  std::size_t max_batch_bytes = std::size_t{4} << 20;  // per applied batch
};

struct OriginalApiCycle {
  std::uint64_t leader_keys = 0;
  std::uint64_t downloads = 0;
  std::uint64_t puts = 0;     // new or changed values written
  std::uint64_t erases = 0;   // keys the leader no longer has
  std::uint64_t batches = 0;  // batches applied
  // Keys the leader listed that this store still lacks after the cycle (the
  // download budget ran out): the follower's lag in this mode.
  std::uint64_t missing = 0;
};

class OriginalApiSync {
 public:
  // `leader_url` is the leader's client base URL ("http://host:port").
  OriginalApiSync(std::string leader_url, tls::ClientTls tls, const TokenFile* token,
                  OriginalApiLimits limits);

  // True when the leader answers `GET /status` with 200 "leader": it speaks
  // the original's API, whatever else it speaks.
  bool LeaderAnswersStatus();

  // One cycle (see the file comment). On error, batches applied before it
  // stand (each is a consistent set of whole values) and the rest waits for
  // the next cycle. `stop` cuts the cycle short (not an error) between
  // requests; one request waits at most 10 s for bytes, so a
  // shutdown waits at most that long.
  mehdb::Result<OriginalApiCycle> RunCycle(mehdb::Store& store, const std::atomic<bool>& stop);

 private:
  std::shared_ptr<httplib::Client> Client();
  // GET `path` into `body`, at most `limit` bytes; the status, or an error.
  mehdb::Result<int> Get(const std::string& path, std::size_t limit, std::string& body);

  const std::string leader_url_;
  const tls::ClientTls tls_;
  const TokenFile* const token_;
  const OriginalApiLimits limits_;
  std::string cursor_;  // the last existing key re-checked
  std::shared_ptr<httplib::Client> client_;
};

}  // namespace mehdbd::replication

#endif  // MEHDBD_REPLICATION_ORIGINAL_API_SYNC_H_

// SPDX-License-Identifier: MIT
//
// Loading a peer's snapshot (GET /v1/replication/snapshot, protocol.h) into
// a fresh store beside the live one and promoting it (store_handle.h). A
// follower does this from its leader; a leader that starts on an empty
// volume does it from its most advanced follower (leader_recovery.h). The
// snapshot keeps the peer's history id and seq.
#ifndef MEHDBD_REPLICATION_SNAPSHOT_FETCH_H_
#define MEHDBD_REPLICATION_SNAPSHOT_FETCH_H_

#include <httplib.h>
#include <mehdb/store.h>

#include <atomic>
#include <string>

#include "store/store_handle.h"

namespace mehdbd::replication {

struct SnapshotFetch {
  bool ok = false;
  int status = 0;  // the peer's HTTP status; 0: no answer
  // No peer server behind the URL (connection refused, or 404).
  bool peer_absent = false;
  std::string error;  // what failed, when !ok (status 401/403 included)
  mehdb::SnapshotHeader header;  // when ok
};

// Streams the snapshot `client` serves into a fresh store and promotes it;
// on any failure the live store is untouched. `name` goes in the
// X-Mehdb-Follower header; `stop` cancels the transfer.
SnapshotFetch FetchSnapshot(StoreHandle& stores, httplib::Client& client, const std::string& name,
                            const std::atomic<bool>& stop);

}  // namespace mehdbd::replication

#endif  // MEHDBD_REPLICATION_SNAPSHOT_FETCH_H_

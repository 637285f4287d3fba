// SPDX-License-Identifier: MIT
#include "replication/snapshot_fetch.h"

#include <mehdb/replication.h>

#include "replication/protocol.h"
#include "tls/client.h"

namespace mehdbd::replication {

SnapshotFetch FetchSnapshot(StoreHandle& stores, httplib::Client& client, const std::string& name,
                            const std::atomic<bool>& stop) {
  SnapshotFetch out;
  auto fresh = stores.CreateFresh();
  if (!fresh.ok()) {
    out.error = "cannot create a store for the snapshot: " + fresh.status().ToString();
    return out;
  }
  auto loader = mehdb::SnapshotLoader::Begin(*fresh->store);
  if (!loader.ok()) {
    out.error = "cannot start a snapshot load: " + loader.status().ToString();
    stores.Discard(std::move(*fresh));
    return out;
  }
  mehdb::Status fed;
  auto res = client.Get(
      kSnapshotPath, httplib::Headers{{kFollowerHeader, name}},
      [&](const httplib::Response& r) {
        out.status = r.status;
        return r.status == 200;
      },
      [&](const char* data, std::size_t n) {
        fed = (*loader)->Feed(std::string_view(data, n));
        return fed.ok() && !stop.load();
      });
  mehdb::Result<mehdb::SnapshotHeader> header = mehdb::Status(mehdb::Code::kAborted, "not read");
  if (res && out.status == 200 && fed.ok()) header = (*loader)->Finish();
  loader->reset();
  out.peer_absent = (!res && out.status == 0 && res.error() == httplib::Error::Connection) ||
                    out.status == 404;
  // The response handler cancels a non-200 answer, so `res` is an error
  // here; the status it saw tells a refusal apart.
  if (!res || out.status != 200 || !fed.ok() || !header.ok()) {
    out.error = out.status != 200 && out.status != 0
                    ? "the peer answered " + std::to_string(out.status)
                : !res    ? "transfer failed: " + tls::DescribeError(client, res.error())
                : !fed.ok() ? fed.ToString()
                            : header.status().ToString();
    stores.Discard(std::move(*fresh));
    return out;
  }
  if (mehdb::Status s = stores.Promote(std::move(*fresh)); !s.ok()) {
    out.error = "cannot switch to the snapshot: " + s.ToString();
    return out;
  }
  out.ok = true;
  out.header = *header;
  return out;
}

}  // namespace mehdbd::replication

// SPDX-License-Identifier: MIT
//
// Start-up restore: `mehdbd --restore-from FILE` turns a backup (what
// GET /backup streams and `mehdb backup` saves: one LMDB data file) into the
// live store of --datadir before anything is served. The restored store
// keeps the backup's keys, values, versions, sequence numbers and history
// id, so followers of the same history resume from it.
//
// A data directory whose store already holds data (any key or any write) is
// refused unless `force` (--restore-force): a restore must never silently
// replace live data. The old store is replaced atomically (StoreHandle's
// `current` symlink), so a crash leaves either the old or the restored store.
#ifndef MEHDBD_STORE_RESTORE_H_
#define MEHDBD_STORE_RESTORE_H_

#include <mehdb/status.h>

#include <string>

#include "store/store_handle.h"

namespace mehdbd {

// On success answers a one-line summary for the log ("restored ... : N keys,
// seq S, history H"); otherwise the reason, which names the file.
mehdb::Result<std::string> RestoreBackup(StoreHandle& stores, const std::string& file,
                                         bool force);

}  // namespace mehdbd

#endif  // MEHDBD_STORE_RESTORE_H_

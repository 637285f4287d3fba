// SPDX-License-Identifier: MIT
//
// DirLock: one process per store. LMDB itself lets several processes share
// an environment, but the store keeps state in memory beside it (the last
// seq, the history, the group-commit queue), so a second writer's commit
// makes the first one's writes fail until it restarts. Store::Open takes an
// exclusive flock(2) on DIR/mehdb.lock before it touches LMDB; the file
// holds the owner's pid so a refused opener can say who has the store.
//
// flock, not fcntl locks: an fcntl lock belongs to the process, so a second
// open in the same process would get it too; a flock belongs to the open
// file description, so a second Store::Open in one process is refused the
// same way as one from another process. The kernel drops the lock when the
// holder exits, however it exits. LMDB's own tools (mdb_stat, mdb_dump)
// never look at this file, so they keep working beside a running store.
#ifndef MEHDB_SRC_DIR_LOCK_H_
#define MEHDB_SRC_DIR_LOCK_H_

#include <mehdb/status.h>

#include <string>

namespace mehdb::internal {

constexpr const char* kLockFileName = "mehdb.lock";

class DirLock {
 public:
  DirLock() = default;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

  // Locks `dir` (which must exist). kUnavailable naming the holder's pid when
  // another opener holds it; kReadOnly and the like when the file cannot be
  // created.
  Status Acquire(const std::string& dir);

 private:
  int fd_ = -1;
};

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_DIR_LOCK_H_

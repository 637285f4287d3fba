// SPDX-License-Identifier: MIT
#include "lmdb_env.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace mehdb::internal {

Status LmdbStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += mdb_strerror(rc);
  Code code = Code::kInternal;
  switch (rc) {
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
      code = Code::kResourceExhausted;
      break;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:
    case EAGAIN:
    case EBUSY:
      code = Code::kUnavailable;
      break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_PANIC:
    case EIO:
      code = Code::kDataLoss;
      break;
    case MDB_BAD_VALSIZE:
    case EINVAL:
      code = Code::kInvalidArgument;
      break;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      code = Code::kNoSpace;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = Code::kReadOnly;
      break;
    case ENOENT:
      code = Code::kNotFound;
      break;
    default:
      break;
  }
  return Status(code, std::move(msg), rc);
}

Status WriteFailureStatus(int rc, std::string_view what, const std::string& dir) {
  // MDB_PANIC: an earlier write of the meta page failed (EIO as below) and
  // LMDB refuses the environment from then on.
  if (rc != EIO && rc != MDB_PANIC) return LmdbStatus(rc, what);
  std::string msg(what);
  msg += ": ";
  msg += mdb_strerror(rc);
  // A short write leaves the volume all but full: whatever fitted was
  // written before the write came up short. Less than 1 MiB free is taken
  // as full (a page or two may be left over, or freed by others meanwhile).
  struct statvfs fs {};
  if (rc == EIO && ::statvfs(dir.c_str(), &fs) == 0 &&
      static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize < (1ull << 20)) {
    return Status(Code::kNoSpace, msg + " (the volume is full)", ENOSPC);
  }
  // A volume the kernel turns read-only after an error fails the write that
  // hit the error with EIO (and may keep failing writes through open
  // descriptors so), but new opens for writing fail with EROFS, which tells
  // it apart from a failing disk. ext4 remounts from a work queue a moment
  // after that first EIO, so look twice.
  const std::string data = dir + "/data.mdb";
  for (int look = 0; look < 2; ++look) {
    if (look > 0) ::usleep(100 * 1000);
    const int fd = ::open(data.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
    } else if (errno == EROFS || errno == EACCES || errno == EPERM) {
      return Status(Code::kReadOnly, msg + " (the volume is read-only)", EROFS);
    }
  }
  return LmdbStatus(rc, what);
}

}  // namespace mehdb::internal

// SPDX-License-Identifier: MIT
#include "lmdb_env.h"

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

}  // namespace mehdb::internal

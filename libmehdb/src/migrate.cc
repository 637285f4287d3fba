// SPDX-License-Identifier: MIT
//
// Store format migrations, run by Store::Open before the store is handed out.
//
// 1 -> 2: every stored value gains a CRC-32C (codec.h). The values are
// rewritten in chunks, one durable transaction each, and each chunk records
// the last key it rewrote under meta "migrated_up_to": values up to that key
// are format 2, the rest still format 1, so a crash in the middle resumes
// where it stopped. The last chunk sets the format record to 2 and drops the
// marker. The change log is not touched (its frames always had checksums).
//
// 2 -> 3: the change log moves to the write-ahead log's segments. LMDB's
// copy ("log" database, meta "first_log_seq" and "log_bytes") is dropped in
// one transaction that also sets the format record to 3, so a crash leaves
// either store whole. Its records are not carried over: the log then starts
// at the records the write-ahead log still holds, and a follower further
// behind loads a snapshot once.
#include <string>
#include <utility>
#include <vector>

#include "codec.h"
#include "store_impl.h"

namespace mehdb {

using internal::ToVal;
using internal::ToView;

namespace {
// Keys per transaction: a few MiB of dirty pages for kilobyte values, far
// below LMDB's per-transaction page limit.
constexpr std::size_t kMigrateChunkKeys = 4096;
}  // namespace

Status Store::Impl::Migrate() {
  if (format_on_disk == internal::kFormatNoChecksum)
    if (Status s = AddChecksums(); !s.ok()) return s;
  if (format_on_disk == internal::kFormatLogInLmdb)
    if (Status s = DropLmdbLog(); !s.ok()) return s;
  if (format_on_disk != internal::kFormatVersion)
    return Status(Code::kInternal,
                  "no migration from store format " + std::to_string(format_on_disk));
  return Status::Ok();
}

Status Store::Impl::DropLmdbLog() {
  Status s = RunWrite(
      [&](MDB_txn* txn) -> int {
        MDB_dbi log;
        int rc = mdb_dbi_open(txn, "log", 0, &log);
        if (rc == MDB_SUCCESS) rc = mdb_drop(txn, log, 1);
        if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
        for (std::string_view key : {internal::kMetaFirstLogSeq, internal::kMetaLogBytes}) {
          MDB_val k = ToVal(key);
          rc = mdb_del(txn, meta, &k, nullptr);
          if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
        }
        return internal::PutMetaU64(txn, meta, internal::kMetaFormat, internal::kFormatVersion);
      },
      "migrating " + dir + " to store format 3");
  if (!s.ok()) return s;
  format_on_disk = internal::kFormatVersion;
  return Status::Ok();
}

Status Store::Impl::AddChecksums() {
  bool done = false;
  while (!done) {
    Status verdict;
    Status s = RunWrite(
        [&](MDB_txn* txn) -> int {
          done = false;
          MDB_val mk = ToVal(internal::kMetaMigratedUpTo), mv;
          std::string after;
          int rc = mdb_get(txn, meta, &mk, &mv);
          if (rc == MDB_SUCCESS) {
            after.assign(ToView(mv));
          } else if (rc != MDB_NOTFOUND) {
            return rc;
          }
          // Copies of (key, format-1 value) for this chunk, rewritten after
          // the cursor is done with the pages.
          std::vector<std::pair<std::string, std::string>> chunk;
          {
            internal::Cursor cursor;
            if ((rc = cursor.Open(txn, kv)) != MDB_SUCCESS) return rc;
            MDB_val k = ToVal(after), d;
            if (after.empty()) {
              rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_FIRST);
            } else {
              rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_SET_RANGE);
              if (rc == MDB_SUCCESS && ToView(k) == after)
                rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_NEXT);
            }
            for (; rc == MDB_SUCCESS && chunk.size() < kMigrateChunkKeys;
                 rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_NEXT)) {
              if ((bounds.InMap(d.mv_data) && !bounds.Contains(d.mv_data, d.mv_size)) ||
                  d.mv_size < internal::kV1ValueHeaderBytes) {
                verdict = Status(Code::kDataLoss, "migrating to store format 2: a stored value "
                                                  "is damaged: " + bounds.file() + " is damaged");
                return MDB_INCOMPATIBLE;
              }
              chunk.emplace_back(std::string(ToView(k)), std::string(ToView(d)));
            }
          }
          if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
          for (const auto& [key, old] : chunk) {
            const std::string_view value =
                std::string_view(old).substr(internal::kV1ValueHeaderBytes);
            MDB_val k = ToVal(key), d{internal::kValueHeaderBytes + value.size(), nullptr};
            if ((rc = mdb_put(txn, kv, &k, &d, MDB_RESERVE)) != MDB_SUCCESS) return rc;
            internal::WriteStoredValue(static_cast<char*>(d.mv_data), key,
                                       internal::LoadU64(old.data()), value);
          }
          if (rc == MDB_SUCCESS) {  // more keys follow this chunk
            MDB_val v = ToVal(chunk.back().first);
            return mdb_put(txn, meta, &mk, &v, 0);
          }
          rc = mdb_del(txn, meta, &mk, nullptr);
          if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
          done = true;
          return internal::PutMetaU64(txn, meta, internal::kMetaFormat,
                                      internal::kFormatLogInLmdb);
        },
        "migrating " + dir + " to store format 2");
    if (!verdict.ok()) return verdict;
    if (!s.ok()) return s;
  }
  format_on_disk = internal::kFormatLogInLmdb;
  return Status::Ok();
}

}  // namespace mehdb

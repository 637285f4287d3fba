// SPDX-License-Identifier: MIT
//
// Thin RAII over the LMDB handles the store uses, and the one function that
// turns an LMDB return code or errno into a mehdb::Status. Nothing here
// leaks into public headers.
#ifndef MEHDB_SRC_LMDB_ENV_H_
#define MEHDB_SRC_LMDB_ENV_H_

#include <lmdb.h>

#include <mehdb/status.h>

#include <string>
#include <string_view>
#include <utility>

namespace mehdb::internal {

// Maps every LMDB code and errno to a Code, keeping mdb_strerror's text.
// `what` says what we were doing ("opening", "committing", ...).
Status LmdbStatus(int rc, std::string_view what);

// LmdbStatus for a failed write transaction on the store in `dir`. LMDB
// reports a write the disk cut short as EIO, and so does a volume the kernel
// turned read-only after an error; both say nothing about the data already
// committed (the failed transaction is simply not there). So EIO is looked
// at again: no free space left makes it kNoSpace, a data file that can no
// longer be opened for writing (EROFS) makes it kReadOnly. MDB_PANIC (LMDB
// gave up on the environment after a failed meta page write) gets the
// read-only check too.
Status WriteFailureStatus(int rc, std::string_view what, const std::string& dir);

inline MDB_val ToVal(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view ToView(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// A transaction that aborts in its destructor unless committed.
class Txn {
 public:
  Txn() = default;
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  Txn(Txn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      Abort();
      txn_ = std::exchange(o.txn_, nullptr);
    }
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { Abort(); }

  MDB_txn* get() const { return txn_; }
  // The handle is gone after Commit whatever it returns (LMDB frees it).
  int Commit() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
  }
  // Hands the (reset) read transaction back to its owner.
  MDB_txn* Release() { return std::exchange(txn_, nullptr); }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor() = default;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  int Open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &cursor_); }
  MDB_cursor* get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_LMDB_ENV_H_

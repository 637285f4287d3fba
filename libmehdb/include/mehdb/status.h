// SPDX-License-Identifier: MIT
//
// File: mehdb/status.h
//
// Errors as values. Every libmehdb call that can fail returns a `Status` or a
// `Result<T>`; no exception crosses the library boundary. The codes are
// modelled on Abseil's canonical ones in name and meaning (not in number:
// the numbering below is ours, and kValueTooLarge, kNoSpace and kReadOnly
// have no Abseil counterpart), narrowed to what a key-value store needs, so
// that a caller (for example mehdbd's HTTP layer) maps each code to one
// answer in one table.
//
//   mehdb::Result<std::optional<mehdb::Value>> r = store->Get("answer");
//   if (!r.ok()) { log(r.status().ToString()); return; }
//   if (!*r) { /* not found is not an error */ }
//
// Thread safety: Status and Result are plain values; const methods are safe to
// call concurrently, non-const ones need external synchronisation.
#ifndef MEHDB_STATUS_H_
#define MEHDB_STATUS_H_

#include <mehdb/export.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mehdb {

// Code says what the caller can do about a failure.
enum class Code : int {
  kOk = 0,
  // The request itself is wrong (bad key, bad option, malformed record). Do
  // not retry it unchanged.
  kInvalidArgument = 1,
  // A value is larger than Options::max_value_bytes.
  kValueTooLarge = 2,
  // Something that must exist does not (not used for a missing key: Get
  // answers std::nullopt for that).
  kNotFound = 3,
  // The store is not in the state the call needs: a follower batch that does
  // not start at applied+1, a different history id, a snapshot loaded into a
  // non-empty store. Do not retry until the state is fixed.
  kFailedPrecondition = 4,
  // A compare-and-set lost: the key's version was not the expected one.
  // Re-read and retry at a higher level.
  kAborted = 5,
  // A log position older than the retained tail (trimmed) or past the end.
  kOutOfRange = 6,
  // The map reached Options::max_map_bytes; raise the ceiling or delete data.
  kResourceExhausted = 7,
  // The filesystem is full (ENOSPC/EDQUOT). The store stays readable and
  // intact; writes succeed again once space is freed.
  kNoSpace = 8,
  // The directory or filesystem is read-only or not writable by this user.
  kReadOnly = 9,
  // The on-disk data is damaged, or a record's checksum did not match.
  kDataLoss = 10,
  // LMDB is momentarily busy: every reader slot is taken
  // (Options::max_readers), another process resized the map, or the lock
  // file is held (EAGAIN/EBUSY). Retrying the same call later may work.
  kUnavailable = 11,
  // A bug or an unexpected LMDB/system error; the message has the cause.
  kInternal = 12,
};

// Name of a code, e.g. "NoSpace".
MEHDB_EXPORT std::string_view CodeName(Code code);

class [[nodiscard]] MEHDB_EXPORT Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, int cause = 0)
      : code_(code), cause_(cause), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The underlying LMDB return code or errno, 0 when there is none.
  int cause() const { return cause_; }
  const std::string& message() const { return message_; }
  // "NoSpace: growing the map: No space left on device"; "OK" when ok().
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  int cause_ = 0;
  std::string message_;
};

// Result<T> holds either a T or a non-OK Status. Check ok() before using the
// value: value() on an error aborts the process (it is a programming error).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) std::abort();  // an OK status carries no T
  }

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &value(); }

 private:
  T& Checked() {
    if (!ok()) std::abort();
    return std::get<0>(v_);
  }
  std::variant<T, Status> v_;
};

}  // namespace mehdb

#endif  // MEHDB_STATUS_H_

// SPDX-License-Identifier: MIT
//
// File: mehdb/replication.h
//
// The types a leader and its followers exchange: the history id that names
// one lineage of data, change-log records, and the codecs for log batches and
// snapshot streams. The byte formats are fixed here so a leader and follower
// of the same version agree; every frame carries a CRC-32C.
//
// Log batch (the body of a peer log response) = zero or more record frames:
//   u32 payload_len | u32 crc32c(payload) | payload
//   payload = u64 seq | u64 commit_time_ns | u32 op_count |
//             op_count × (u8 kind | u32 key_len | key | u32 value_len | value)
// Snapshot stream = "MEHDBSNP" | u32 format | frames of the same shape whose
// payload starts with a u8 frame type: 'H' header (history, seq, entry count),
// 'E' a run of entries (u32 count × (u32 klen | key | u32 vlen | u64 version |
// value)), 'T' trailer (entry count again). All integers are big-endian.
#ifndef MEHDB_REPLICATION_H_
#define MEHDB_REPLICATION_H_

#include <mehdb/export.h>
#include <mehdb/status.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mehdb {

// A sequence number: the position of one committed write in a history.
// 0 means "nothing yet"; the first write is 1.
using Seq = std::uint64_t;

// Names one lineage of data: made at random when a store is created, adopted
// by a follower from its leader. Same history + same seq = same data.
struct MEHDB_EXPORT HistoryId {
  std::array<std::uint8_t, 16> bytes{};

  static HistoryId Random();
  // 32 lowercase hex digits; nullopt for anything else.
  static std::optional<HistoryId> FromHex(std::string_view hex);
  std::string ToHex() const;
  bool IsZero() const;
  friend bool operator==(const HistoryId&, const HistoryId&) = default;
};

struct LogOp {
  enum class Kind : std::uint8_t { kPut = 1, kErase = 2 };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // empty for kErase
};

// One committed write (a put, an erase or a whole batch).
struct LogRecord {
  Seq seq = 0;
  std::uint64_t commit_time_ns = 0;
  std::vector<LogOp> ops;
};

// Appends the frame for `record` to `out`.
MEHDB_EXPORT void EncodeLogRecord(const LogRecord& record, std::string& out);

// Decodes a whole log batch. Fails with kDataLoss on a bad checksum, a cut
// frame or a malformed payload, and kInvalidArgument on records that are not
// strictly consecutive. Nothing is returned on failure, never a prefix.
MEHDB_EXPORT Result<std::vector<LogRecord>> DecodeLogBatch(std::string_view bytes);

// What a snapshot stream describes: the leader's history and the seq its
// data is at.
struct SnapshotHeader {
  HistoryId history;
  Seq seq = 0;
  std::uint64_t entries = 0;
};

}  // namespace mehdb

#endif  // MEHDB_REPLICATION_H_

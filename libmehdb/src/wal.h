// SPDX-License-Identifier: MIT
//
// The write-ahead log: the file a durable write is acknowledged from. The
// group-commit leader appends a group's records and syncs them with one
// fdatasync; the applier later commits them to LMDB and retires segments it
// has fully applied. Open replays what LMDB had not applied yet.
//
// Layout: <store>/wal/<first seq, 20 digits>.log, each segment
//   header (64 bytes): "MEHDBWAL" | u32 format | u32 header crc32c |
//                      16-byte history id | u64 first seq | u64 salt | zeros
//   records: u32 len | u32 crc32c(salt, body) | body, where body is the
//            record's change-log frame (log_codec.h), exactly what the LMDB
//            change log stores and ReadLog ships.
// Segments are preallocated in steps (fallocate) so most fdatasyncs do not
// change the file's size. Replay stops at the first short, zero, damaged or
// out-of-sequence record: nothing after it was acknowledged, because an
// acknowledgement syncs every byte before it. The per-segment random salt in
// each record's checksum means bytes left in a reused block from an older
// segment never read as a valid record, and seq continuity catches a record
// that is valid but was left behind by a failed append.
#ifndef MEHDB_SRC_WAL_H_
#define MEHDB_SRC_WAL_H_

#include <mehdb/replication.h>
#include <mehdb/status.h>

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mehdb::internal {

class Wal {
 public:
  // One record found by Replay: its seq and change-log frame.
  struct Replayed {
    Seq seq;
    std::string frame;
  };

  Wal(std::string store_dir, std::uint64_t segment_bytes, bool sync);
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;
  ~Wal();

  // Reads every segment and returns, in order, the records after `applied`,
  // continuous from applied + 1. kDataLoss when a record after `applied` is
  // missing (a gap before a later segment's records) or a segment of another
  // history holds records to replay.
  Status Replay(Seq applied, const HistoryId& history, std::vector<Replayed>& out) const;

  // Removes every segment and starts an empty one whose first record will be
  // `next_seq` (after Open's replay, and after a snapshot load).
  Status Reset(Seq next_seq, const HistoryId& history);

  // Keeps every segment (they hold records not yet applied); the next
  // append starts a new one with `next_seq`: after an Open whose replay
  // could not apply everything. Retire removes the old ones once their
  // records are applied.
  Status Continue(Seq next_seq, const HistoryId& history);

  // Appends the frames (records first_seq, first_seq + 1, ...) and, in sync
  // mode, fdatasyncs them once. On failure the segment is cut back to its
  // last good record and the next append starts a new segment; when the cut
  // itself fails (a volume turned read-only) after this append wrote,
  // `in_doubt` is set: its records may yet be replayed (InDoubt).
  Status Append(Seq first_seq, std::span<const std::string> frames, bool& in_doubt);

  // True while records of a failed append may still be on disk for the next
  // Open to replay: the append wrote them, its sync failed, and cutting them
  // off failed too. Whether those writes happened is then unknown until a
  // new segment starting at or before their seq supersedes them (the next
  // append that gets that far; Replay drops what a later segment's first
  // seq covers) or the store is reopened.
  bool InDoubt() const;

  // Unlinks the segments (other than the current one) whose records are all
  // at or below `applied`.
  void Retire(Seq applied);

  // Free bytes on the log's volume, or UINT64_MAX when there is plenty
  // (only a nearly full volume is worth counting).
  std::uint64_t FreeBytesIfLow() const;

  // Bytes in segment files (as allocated), for backpressure and metrics.
  std::uint64_t Bytes() const;

 private:
  struct Segment {
    Seq first_seq;
    std::string path;
    std::uint64_t allocated;  // file size
  };
  Status StartSegment(Seq first_seq);
  Status SyncDir() const;
  std::string SegmentPath(Seq first_seq) const;

  const std::string store_dir_;
  const std::string dir_;  // <store>/wal
  const std::uint64_t segment_bytes_;
  const bool sync_;
  HistoryId history_;

  mutable std::mutex mu_;  // guards segments_ and the fields below
  std::vector<Segment> segments_;  // oldest first; back() is being appended
  int fd_ = -1;                    // back()'s descriptor
  std::uint64_t offset_ = 0;       // end of its last good record
  Seq next_seq_ = 0;               // the seq the next append starts with
  std::uint64_t salt_ = 0;
  bool rotate_ = false;  // start a new segment before the next append
  Seq doubt_from_ = 0;   // the first seq of records in doubt (InDoubt), or 0
};

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_WAL_H_

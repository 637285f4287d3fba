// SPDX-License-Identifier: MIT
//
// The write-ahead log: the file a durable write is acknowledged from, and
// the change log followers and watchers read. The group-commit leader
// appends a group's records and syncs them with one fdatasync; the applier
// later commits them to LMDB. Segments stay while the retention bounds keep
// their records for readers (Read), and go once they are both applied and
// trimmed. Open replays what LMDB had not applied yet.
//
// Layout: <store>/wal/<first seq, 20 digits>.log, each segment
//   header (64 bytes): "MEHDBWAL" | u32 format | u32 header crc32c |
//                      16-byte history id | u64 first seq | u64 salt | zeros
//   records: u32 len | u32 crc32c(salt, body) | body, where body is the
//            record's change-log frame (log_codec.h), exactly what
//            ReadLog ships to a follower.
// Segments are preallocated in steps (fallocate) so most fdatasyncs do not
// change the file's size. Replay stops at the first short, zero, damaged or
// out-of-sequence record: nothing after it was acknowledged, because an
// acknowledgement syncs every byte before it. The per-segment random salt in
// each record's checksum means bytes left in a reused block from an older
// segment never read as a valid record, and seq continuity catches a record
// that is valid but was left behind by a failed append.
//
// A segment left for the next one gets an index file beside it,
// <first seq>.idx: "MEHDBIDX" | u32 crc32c of the rest | u64 first seq |
// u64 salt | u64 count | count x u32 record size. It is written without a
// sync (in sync mode only, after the records it lists were synced), and
// Load takes offsets from it instead of walking the segment only when the
// segment is wholly applied, the next segment starts right after the
// index's last record, and that record is where the index puts it (its
// length, checksum and seq); a missing, torn or stale index costs a walk.
// A reopen then reads the index files, not the retained records.
//
// Retention (what Read still serves) is logical: the oldest retained seq
// moves on record by record as appends push the log past its bounds, and a
// segment file goes when every record in it is both trimmed and applied.
// Segments are cut at an eighth of the bounds, so the files hold at most
// about an eighth more than the retained records. Each retained record's
// offset is kept in memory (8 bytes a record), so a read is one pread.
#ifndef MEHDB_SRC_WAL_H_
#define MEHDB_SRC_WAL_H_

#include <mehdb/replication.h>
#include <mehdb/status.h>

#include <cstdint>
#include <functional>
#include <memory>
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

  // How many records Read keeps serving (Options::log_retain_entries and
  // log_retain_bytes): at least `entries` unless more than `bytes`, and
  // records after hold_floor() stay beyond `entries` (never beyond `bytes`).
  struct Retention {
    std::uint64_t entries;
    std::uint64_t bytes;
    std::function<Seq()> hold_floor;
  };

  Wal(std::string store_dir, std::uint64_t segment_bytes, bool sync, Retention retention);
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;
  ~Wal();

  // Reads every segment, indexes the records it can serve, and returns in
  // order the records after `applied`, continuous from applied + 1.
  // kDataLoss when a record after `applied` is missing (a gap before a
  // later segment's records) or a segment of another history holds records
  // to replay. Continue must follow.
  Status Load(Seq applied, const HistoryId& history, std::vector<Replayed>& out);

  // After Load: keeps the segments Load indexed (removing any other file),
  // trims them to the retention bounds, and makes the next append start a
  // new segment with `next_seq`.
  Status Continue(Seq next_seq, const HistoryId& history);

  // Removes every segment and starts an empty one whose first record will be
  // `next_seq` (a new history: a snapshot load, or adopting a leader's).
  Status Reset(Seq next_seq, const HistoryId& history);

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
  // trimmed and at or below `applied`. On a nearly full volume it first
  // trims every applied record, ignoring the bounds: LMDB needs the space
  // more than followers need the records (they can load a snapshot).
  void Retire(Seq applied);

  // Appends to `frames` the records from `from` on, up to `upto`, at most
  // `max_bytes` of them but at least one; sets `to` to the last one's seq.
  // kOutOfRange when `from` is older than the oldest retained record or not
  // yet appended; kDataLoss when a segment's bytes are not what was
  // written there.
  Status Read(Seq from, Seq upto, std::size_t max_bytes, std::string& frames, Seq& to) const;

  // The retained records: the oldest's seq (the next append's when there
  // are none), how many, and their frames' bytes.
  struct Retained {
    Seq first;
    std::uint64_t entries;
    std::uint64_t bytes;
  };
  Retained Info() const;

  // Free bytes on the log's volume, or UINT64_MAX when there is plenty
  // (only a nearly full volume is worth counting).
  std::uint64_t FreeBytesIfLow() const;

  // Bytes in segment files (as allocated), for backpressure and metrics.
  std::uint64_t Bytes() const;

 private:
  // A descriptor for reading one segment, shared with the reads in flight
  // so a segment retired meanwhile stays readable until they end.
  struct ReadFd {
    int fd;
    explicit ReadFd(int f) : fd(f) {}
    ReadFd(const ReadFd&) = delete;
    ReadFd& operator=(const ReadFd&) = delete;
    ~ReadFd();
  };
  struct Segment {
    Seq first_seq;
    std::string path;
    std::uint64_t allocated;  // file size
    std::uint64_t salt;
    std::shared_ptr<const ReadFd> reader;
    // offsets[i]: where record first_seq + i starts; `end`: where the last
    // good one ends.
    std::vector<std::uint64_t> offsets;
    std::uint64_t end;
    Seq next_seq() const { return first_seq + offsets.size(); }
    std::uint64_t RecordBytes(std::size_t i) const {
      return (i + 1 < offsets.size() ? offsets[i + 1] : end) - offsets[i];
    }
  };
  Status StartSegment(Seq first_seq);
  Status SyncDir() const;
  std::string SegmentPath(Seq first_seq) const;
  // The segment holding `seq` (the newest starting at or before it), or
  // nullptr; index_mu_ (or write_mu_) held.
  const Segment* Find(Seq seq) const;
  // Moves first_ past records beyond the bounds (on a low volume, past
  // every applied record too); both locks held.
  void TrimLocked(Seq applied_if_low);
  // The segment size at which appends move to a new one.
  std::uint64_t SegmentCapBytes() const;

  const std::string store_dir_;
  const std::string dir_;  // <store>/wal
  const std::uint64_t segment_bytes_;
  const bool sync_;
  const Retention retention_;
  HistoryId history_;

  // Appends, retirement and resets are serialised by write_mu_, held across
  // their file I/O (an append's write and sync). What readers see is
  // guarded by index_mu_ alone, which writers take only to change it, so a
  // Read or Info never waits for a sync. Order: write_mu_, index_mu_, then
  // the hold_floor callback's own lock.
  mutable std::mutex write_mu_;
  int fd_ = -1;                    // back()'s descriptor
  std::uint64_t offset_ = 0;       // end of its last good record
  std::uint64_t salt_ = 0;
  bool rotate_ = false;  // start a new segment before the next append
  std::uint64_t alloc_step_ = 0;  // back()'s preallocation step
  Seq doubt_from_ = 0;   // the first seq of records in doubt (InDoubt), or 0

  // Changed only with write_mu_ held too.
  mutable std::mutex index_mu_;
  std::vector<Segment> segments_;  // oldest first; back() is being appended
  Seq next_seq_ = 0;               // the seq the next append starts with
  Seq first_ = 1;                  // the oldest retained record
  std::uint64_t retained_bytes_ = 0;  // record bytes from first_ on
};

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_WAL_H_

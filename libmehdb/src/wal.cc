// SPDX-License-Identifier: MIT
//
// The write-ahead log's segment files (format and guarantees in wal.h).
#include "wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "codec.h"
#include "crc32c.h"
#include "lmdb_env.h"

namespace mehdb::internal {

namespace {

constexpr std::string_view kMagic = "MEHDBWAL";
constexpr std::uint32_t kFormat = 1;
constexpr std::size_t kHeaderBytes = 64;
constexpr std::size_t kRecordHeaderBytes = 8;
// Preallocation step: big enough that few syncs change the file size or its
// extents. The step is reserved (posix_fallocate) and then written with
// zeros: on ext4 a write into a merely reserved (unwritten) extent is a
// metadata change, so each fdatasync would commit the journal, and that
// commit waits for the data LMDB's applier has in flight.
constexpr std::uint64_t kAllocStep = std::uint64_t{4} << 20;

// Reserves [from, to) of fd and writes zeros over it; an errno value or 0.
int Preallocate(int fd, std::uint64_t from, std::uint64_t to) {
  if (to <= from) return 0;
  const int rc = ::posix_fallocate(fd, static_cast<off_t>(from), static_cast<off_t>(to - from));
  if (rc != 0 && rc != EOPNOTSUPP) return rc;
  static const std::string zeros(std::size_t{64} << 10, '\0');
  for (std::uint64_t at = from; at < to;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), to - at));
    const ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : ENOSPC;
    at += static_cast<std::uint64_t>(w);
  }
  return 0;
}

// Below this much free space the log preallocates nothing and gives back a
// fully applied segment at once: the space is better left to LMDB, which
// needs it to apply the log (and a full volume must not be filled by
// preallocated zeros).
constexpr std::uint64_t kLowSpace = std::uint64_t{64} << 20;

std::uint64_t FreeBytes(const std::string& dir) {
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return UINT64_MAX;
  return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

bool LowOnSpace(const std::string& dir) { return FreeBytes(dir) < kLowSpace; }

std::uint64_t RandomSalt() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

std::uint32_t RecordCrc(std::uint64_t salt, std::string_view body) {
  char s[8];
  std::memcpy(s, &salt, sizeof s);
  return Crc32c(body, Crc32c(std::string_view(s, sizeof s)));
}

Status Errno(int err, const std::string& what, const std::string& store_dir) {
  return WriteFailureStatus(err, what, store_dir);
}

bool WriteAllAt(int fd, const char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (w == 0) {
      errno = ENOSPC;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<std::uint64_t>(w);
  }
  return true;
}

bool ReadFile(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (ok && got < out.size()) {
      const ssize_t r = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        out.resize(got);  // a shorter file than stat said: read what is there
        break;
      }
      got += static_cast<std::size_t>(r);
    }
  }
  ::close(fd);
  return ok;
}

// The seq in a change-log frame (u32 len | u32 crc | u64 seq | ...).
Seq FrameSeq(std::string_view frame) { return LoadU64(frame.data() + kFrameHeaderBytes); }

struct Header {
  HistoryId history;
  Seq first_seq = 0;
  std::uint64_t salt = 0;
};

std::string EncodeHeader(const Header& h) {
  std::string out(kMagic);
  PutU32(out, kFormat);
  std::string rest(reinterpret_cast<const char*>(h.history.bytes.data()), h.history.bytes.size());
  PutU64(rest, h.first_seq);
  PutU64(rest, h.salt);
  PutU32(out, Crc32c(rest));
  out += rest;
  out.resize(kHeaderBytes, '\0');
  return out;
}

bool DecodeHeader(std::string_view data, Header& h) {
  if (data.size() < kHeaderBytes || !data.starts_with(kMagic)) return false;
  if (LoadU32(data.data() + 8) != kFormat) return false;
  const std::string_view rest = data.substr(16, 32);
  if (Crc32c(rest) != LoadU32(data.data() + 12)) return false;
  std::memcpy(h.history.bytes.data(), rest.data(), h.history.bytes.size());
  h.first_seq = LoadU64(rest.data() + 16);
  h.salt = LoadU64(rest.data() + 24);
  return h.first_seq != 0;
}

// Segment files in `dir`, sorted by the first seq their name carries.
std::vector<std::pair<Seq, std::string>> ListSegments(const std::string& dir) {
  std::vector<std::pair<Seq, std::string>> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name.size() != 24 || !name.ends_with(".log")) continue;
    Seq seq = 0;
    bool digits = true;
    for (char c : name.substr(0, 20)) {
      if (c < '0' || c > '9') digits = false;
      seq = seq * 10 + static_cast<Seq>(c - '0');
    }
    if (digits) out.emplace_back(seq, dir + "/" + std::string(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Wal::Wal(std::string store_dir, std::uint64_t segment_bytes, bool sync)
    : store_dir_(std::move(store_dir)),
      dir_(store_dir_ + "/wal"),
      segment_bytes_(segment_bytes),
      sync_(sync) {}

Wal::~Wal() {
  if (fd_ >= 0) ::close(fd_);
}

std::string Wal::SegmentPath(Seq first_seq) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.log", static_cast<unsigned long long>(first_seq));
  return dir_ + "/" + name;
}

Status Wal::SyncDir() const {
  const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "opening " + dir_, store_dir_);
  const int rc = sync_ ? ::fsync(fd) : 0;
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Errno(err, "syncing " + dir_, store_dir_);
  return Status::Ok();
}

Status Wal::Replay(Seq applied, const HistoryId& history, std::vector<Replayed>& out) const {
  Seq next = applied + 1;  // the record replay needs next
  for (const auto& [name_seq, path] : ListSegments(dir_)) {
    std::string data;
    if (!ReadFile(path, data)) return Errno(errno, "reading " + path, store_dir_);
    Header h;
    // A segment whose header never reached the disk was created for
    // records none of which were acknowledged (creation syncs the header
    // before any record is appended): nothing after it counts either.
    if (!DecodeHeader(data, h) || h.first_seq != name_seq) break;
    // A segment started at a seq an earlier one already holds was started
    // after an append to the earlier one failed: from that seq on it
    // supersedes whatever the failed append may have left behind.
    if (h.first_seq < next) {
      while (!out.empty() && out.back().seq >= h.first_seq) out.pop_back();
      next = std::max(h.first_seq, applied + 1);
    }
    if (h.first_seq > next)
      return Status(Code::kDataLoss, "write-ahead log segment " + path + " starts at seq " +
                                         std::to_string(h.first_seq) + " but seq " +
                                         std::to_string(next) + " is missing");
    Seq seq = h.first_seq;
    std::string_view rest = std::string_view(data).substr(kHeaderBytes);
    while (rest.size() >= kRecordHeaderBytes) {
      const std::uint32_t len = LoadU32(rest.data());
      if (len < kFrameHeaderBytes + 8 || len > kMaxFrameBytes ||
          rest.size() - kRecordHeaderBytes < len)
        break;
      const std::string_view body = rest.substr(kRecordHeaderBytes, len);
      if (RecordCrc(h.salt, body) != LoadU32(rest.data() + 4)) break;
      std::string_view payload;
      std::size_t consumed = 0;
      if (NextFrame(body, payload, consumed) != FrameResult::kOk || consumed != len) break;
      if (FrameSeq(body) != seq) break;
      if (seq == next) {
        if (h.history != history)
          return Status(Code::kDataLoss, "write-ahead log segment " + path +
                                             " belongs to another history");
        out.push_back({seq, std::string(body)});
        ++next;
      }
      ++seq;
      rest.remove_prefix(kRecordHeaderBytes + len);
    }
  }
  return Status::Ok();
}

Status Wal::StartSegment(Seq first_seq) {
  // Restarting at the first seq of the current segment (its first append
  // failed): the new file replaces it.
  if (!segments_.empty() && segments_.back().first_seq == first_seq) segments_.pop_back();
  const std::string path = SegmentPath(first_seq);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno(errno, "creating " + path, store_dir_);
  Header h;
  h.history = history_;
  h.first_seq = first_seq;
  h.salt = RandomSalt();
  const std::string header = EncodeHeader(h);
  const std::uint64_t alloc = LowOnSpace(dir_) ? 0 : std::min(segment_bytes_, kAllocStep);
  int err = 0;
  if (alloc != 0) err = Preallocate(fd, 0, alloc);
  if (err == 0 && !WriteAllAt(fd, header.data(), header.size(), 0)) err = errno;
  if (err == 0 && sync_ && ::fdatasync(fd) != 0) err = errno;
  if (err != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return Errno(err, "creating write-ahead log segment " + path, store_dir_);
  }
  if (Status s = SyncDir(); !s.ok()) {
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  struct stat st {};
  ::fstat(fd, &st);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  offset_ = kHeaderBytes;
  next_seq_ = first_seq;
  salt_ = h.salt;
  rotate_ = false;
  // Its synced header makes Replay drop whatever an older segment holds from
  // first_seq on, records of a failed append included.
  if (doubt_from_ != 0 && first_seq <= doubt_from_) doubt_from_ = 0;
  segments_.push_back({first_seq, path, static_cast<std::uint64_t>(st.st_size)});
  return Status::Ok();
}

Status Wal::Reset(Seq next_seq, const HistoryId& history) {
  std::lock_guard lock(mu_);
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST)
    return Errno(errno, "creating " + dir_, store_dir_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  segments_.clear();
  for (const auto& [seq, path] : ListSegments(dir_))
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Errno(errno, "removing " + path, store_dir_);
  history_ = history;
  return StartSegment(next_seq);
}

Status Wal::Continue(Seq next_seq, const HistoryId& history) {
  std::lock_guard lock(mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  segments_.clear();
  for (const auto& [seq, path] : ListSegments(dir_)) {
    if (seq >= next_seq) {
      // Started for records that never came (its header at most): it goes,
      // like every segment Reset finds.
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return Errno(errno, "removing " + path, store_dir_);
      continue;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Errno(errno, "reading " + path, store_dir_);
    segments_.push_back({seq, path, static_cast<std::uint64_t>(st.st_size)});
  }
  history_ = history;
  // The next append starts the new segment: on the full volume that made
  // the replay stop, even its header may not fit yet, and the store must
  // still open.
  next_seq_ = next_seq;
  rotate_ = true;
  return Status::Ok();
}

Status Wal::Append(Seq first_seq, std::span<const std::string> frames, bool& in_doubt) {
  std::lock_guard lock(mu_);
  in_doubt = false;
  std::size_t total = 0;
  for (const std::string& f : frames) total += kRecordHeaderBytes + f.size();
  if (rotate_ || fd_ < 0 ||
      (offset_ + total > segment_bytes_ && offset_ > kHeaderBytes)) {
    if (Status s = StartSegment(first_seq); !s.ok()) return s;
  }
  std::string buf;
  buf.reserve(total);
  for (const std::string& f : frames) {
    PutU32(buf, static_cast<std::uint32_t>(f.size()));
    PutU32(buf, RecordCrc(salt_, f));
    buf += f;
  }
  Segment& seg = segments_.back();
  int err = 0;
  bool wrote = false;  // bytes of this append may be in the file
  const std::uint64_t end = offset_ + buf.size();
  if (end > seg.allocated) {
    // Grow ahead by a step, so the next appends' syncs need not write the
    // file's size.
    std::uint64_t want = std::max(end, std::min(seg.allocated + kAllocStep,
                                                std::max(segment_bytes_, end)));
    if (LowOnSpace(dir_)) want = end;
    // Only past the records: the zeros must not overwrite this append's
    // predecessors, and the append itself fills [offset_, end).
    const std::uint64_t from = std::max(seg.allocated, end);
    int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(end));
    if (rc == 0 || rc == EOPNOTSUPP) rc = Preallocate(fd_, from, want);
    // A nearly full volume may still have room for just this append.
    if (rc == ENOSPC && want > end) {
      want = end;
      rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(end));
      if (rc == EOPNOTSUPP) rc = 0;
    }
    if (rc == 0) seg.allocated = want;
    else err = rc;
  }
  if (err == 0) {
    wrote = true;
    if (!WriteAllAt(fd_, buf.data(), buf.size(), offset_)) err = errno;
  }
  if (err == 0 && sync_ && ::fdatasync(fd_) != 0) err = errno;
  if (err == 0) {
    offset_ = end;
    next_seq_ = first_seq + frames.size();
    return Status::Ok();
  }
  // Nothing of this append may survive to be replayed: cut the segment back
  // to its last good record (a failed sync may still have written some of
  // it), and write the next group to a new segment.
  rotate_ = true;
  bool cut = ::ftruncate(fd_, static_cast<off_t>(offset_)) == 0;
  if (cut) seg.allocated = offset_;
  cut = cut && (!sync_ || ::fdatasync(fd_) == 0);
  // On a volume the kernel turned read-only neither works, and the records
  // may be on disk all the same: the caller must not answer as if they
  // were not (InDoubt).
  if (wrote && !cut) {
    in_doubt = true;
    if (doubt_from_ == 0 || first_seq < doubt_from_) doubt_from_ = first_seq;
  }
  return Errno(err, "appending to the write-ahead log " + seg.path, store_dir_);
}

void Wal::Retire(Seq applied) {
  std::lock_guard lock(mu_);
  // A fully applied current segment is swapped for a fresh one once it is a
  // fair part of its size (or at once when space is short), so the log
  // holds little beyond the records not yet applied.
  if (fd_ >= 0 && !rotate_ && applied + 1 == next_seq_ && offset_ > kHeaderBytes &&
      (offset_ >= segment_bytes_ / 8 || LowOnSpace(dir_)))
    (void)StartSegment(next_seq_);
  std::size_t drop = 0;
  while (drop + 1 < segments_.size() && segments_[drop + 1].first_seq - 1 <= applied) ++drop;
  if (drop == 0) return;
  for (std::size_t i = 0; i < drop; ++i) ::unlink(segments_[i].path.c_str());
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(drop));
  (void)SyncDir();
}

bool Wal::InDoubt() const {
  std::lock_guard lock(mu_);
  return doubt_from_ != 0;
}

std::uint64_t Wal::FreeBytesIfLow() const {
  const std::uint64_t free = FreeBytes(dir_);
  return free < kLowSpace ? free : UINT64_MAX;
}

std::uint64_t Wal::Bytes() const {
  std::lock_guard lock(mu_);
  std::uint64_t n = 0;
  for (const Segment& s : segments_) n += s.allocated;
  return n;
}

}  // namespace mehdb::internal

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
// Segments are cut at this fraction of the retention bounds: a segment goes
// only once all its records are trimmed, so the files hold up to about
// 1/kCutsPerBound more than the retained records. Small bounds still get
// segments of at least kMinCutRecords records or kMinCutBytes: each new
// segment costs a file, a descriptor and two syncs, and a segment per group
// would pay that on every write.
constexpr std::uint64_t kCutsPerBound = 8;
constexpr std::uint64_t kMinCutRecords = 64;
constexpr std::uint64_t kMinCutBytes = 64 << 10;
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

// Reads [off, off + n) of fd into p until it has every byte or the file
// ends; `got` says how many arrived. False with errno set when a read fails.
bool ReadAt(int fd, char* p, std::size_t n, std::uint64_t off, std::size_t& got) {
  got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r == 0) break;  // the file ends first
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// Reads one file front to back through a bounded window: Load walks every
// retained segment at open, and neither a copy of each whole file nor a
// mapping (a bad sector would be SIGBUS, not an error) is wanted.
class FileWindow {
 public:
  FileWindow() = default;
  FileWindow(const FileWindow&) = delete;
  FileWindow& operator=(const FileWindow&) = delete;
  ~FileWindow() {
    if (fd_ >= 0) ::close(fd_);
  }
  // False with errno set when the file cannot be opened.
  bool Open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd_ < 0 || ::fstat(fd_, &st) != 0) return false;
    size_ = static_cast<std::uint64_t>(st.st_size);
    return true;
  }
  std::uint64_t size() const { return size_; }
  // Sets `out` to bytes [off, off + n) of the file. False when the file
  // ends first, and also sets `failed` (with errno) when a read fails.
  bool Get(std::uint64_t off, std::size_t n, std::string_view& out, bool& failed) {
    if (off > size_ || n > size_ - off) return false;
    if (off < start_ || off + n > start_ + buf_.size()) {
      constexpr std::size_t kWindow = std::size_t{1} << 20;
      buf_.resize(static_cast<std::size_t>(
          std::min<std::uint64_t>(std::max(n, kWindow), size_ - off)));
      start_ = off;
      std::size_t got = 0;
      // A file shorter than stat said leaves got short without an error.
      if (!ReadAt(fd_, buf_.data(), buf_.size(), off, got)) failed = true;
      buf_.resize(got);
      if (got < n) return false;
    }
    out = std::string_view(buf_).substr(static_cast<std::size_t>(off - start_), n);
    return true;
  }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string buf_;
  std::uint64_t start_ = 0;  // file offset of buf_[0]
};

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

// A segment's index file: the byte size of each of its records, so that a
// reopen finds where they start without reading the segment.
//   "MEHDBIDX" | u32 crc32c of the rest | u64 first seq | u64 salt |
//   u64 count | count x u32 record size (header included)
constexpr std::string_view kIndexMagic = "MEHDBIDX";
constexpr std::size_t kIndexHeaderBytes = 8 + 4 + 8 + 8 + 8;

std::string EncodeIndex(Seq first_seq, std::uint64_t salt, const std::vector<std::uint64_t>& offsets,
                        std::uint64_t end) {
  std::string rest;
  rest.reserve(kIndexHeaderBytes + 4 * offsets.size());
  PutU64(rest, first_seq);
  PutU64(rest, salt);
  PutU64(rest, offsets.size());
  for (std::size_t i = 0; i < offsets.size(); ++i)
    PutU32(rest, static_cast<std::uint32_t>((i + 1 < offsets.size() ? offsets[i + 1] : end) -
                                            offsets[i]));
  std::string out(kIndexMagic);
  PutU32(out, Crc32c(rest));
  return out + rest;
}

// The record offsets an index file gives for the segment with header `h`,
// and where its last record ends; false when the file is missing, torn,
// damaged or another segment's.
bool DecodeIndex(const std::string& path, const Header& h, std::vector<std::uint64_t>& offsets,
                 std::uint64_t& end) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  std::string data;
  std::size_t got = 0;
  // No index this code writes comes near 1 GiB (that is 256 M records in
  // one segment): a larger file is not worth allocating for.
  const bool sized = ::fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(kIndexHeaderBytes) &&
                     st.st_size <= (off_t{1} << 30);
  if (sized) data.resize(static_cast<std::size_t>(st.st_size));
  const bool read = sized && ReadAt(fd, data.data(), data.size(), 0, got) && got == data.size();
  ::close(fd);
  if (!read || !data.starts_with(kIndexMagic)) return false;
  const std::string_view rest = std::string_view(data).substr(12);
  if (Crc32c(rest) != LoadU32(data.data() + 8)) return false;
  const std::uint64_t count = LoadU64(rest.data() + 16);
  if (LoadU64(rest.data()) != h.first_seq || LoadU64(rest.data() + 8) != h.salt || count == 0 ||
      count != (rest.size() - 24) / 4 || (rest.size() - 24) % 4 != 0)
    return false;
  offsets.clear();
  offsets.reserve(static_cast<std::size_t>(count));
  std::uint64_t at = kHeaderBytes;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint32_t size = LoadU32(rest.data() + 24 + 4 * i);
    if (size < kRecordHeaderBytes + kFrameHeaderBytes + 8 ||
        size > kRecordHeaderBytes + kMaxFrameBytes)
      return false;
    offsets.push_back(at);
    at += size;
  }
  end = at;
  return true;
}

// Segment (".log") or index (".idx") files in `dir`, sorted by the first
// seq their name carries.
std::vector<std::pair<Seq, std::string>> ListFiles(const std::string& dir, std::string_view ext) {
  std::vector<std::pair<Seq, std::string>> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name.size() != 24 || !name.ends_with(ext)) continue;
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

std::vector<std::pair<Seq, std::string>> ListSegments(const std::string& dir) {
  return ListFiles(dir, ".log");
}

// The index file beside segment `segment_path` (<first seq>.log).
std::string IndexPathOf(const std::string& segment_path) {
  return segment_path.substr(0, segment_path.size() - 4) + ".idx";
}

// Writes an index file, unsynced: one lost or torn by a crash only costs
// the next Load a walk of its segment, so no error here is worth failing
// an append for (a file left half written is removed, or fails its check).
void WriteIndexFile(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return;
  const bool ok = WriteAllAt(fd, bytes.data(), bytes.size(), 0);
  ::close(fd);
  if (!ok) ::unlink(path.c_str());
}

// For Load: the offsets of a segment's records from its index file, when
// the index holds and the segment is one Load may take on its word: left
// for the next listed segment, which starts right after the index's last
// record (so no record was appended after the index was written), with
// every record applied (none to replay, so none to check now: Read checks
// each record it serves), and ending with the record the index says it
// does. Otherwise false, and Load walks the segment.
bool OffsetsFromIndex(const std::string& segment_path, const Header& h, Seq next_listed,
                      Seq applied, FileWindow& file, std::vector<std::uint64_t>& offsets,
                      std::uint64_t& end) {
  std::vector<std::uint64_t> found;
  std::uint64_t found_end = 0;
  if (!DecodeIndex(IndexPathOf(segment_path), h, found, found_end)) return false;
  const Seq last = h.first_seq + found.size() - 1;
  if (last + 1 != next_listed || last > applied || found_end > file.size()) return false;
  bool failed = false;
  std::string_view rec;
  const std::uint64_t size = found_end - found.back();
  if (!file.Get(found.back(), static_cast<std::size_t>(size), rec, failed)) return false;
  const std::string_view body = rec.substr(kRecordHeaderBytes);
  if (LoadU32(rec.data()) != body.size() || RecordCrc(h.salt, body) != LoadU32(rec.data() + 4) ||
      FrameSeq(body) != last)
    return false;
  offsets = std::move(found);
  end = found_end;
  return true;
}

}  // namespace

Wal::ReadFd::~ReadFd() {
  if (fd >= 0) ::close(fd);
}

Wal::Wal(std::string store_dir, std::uint64_t segment_bytes, bool sync, Retention retention)
    : store_dir_(std::move(store_dir)),
      dir_(store_dir_ + "/wal"),
      segment_bytes_(segment_bytes),
      sync_(sync),
      retention_(std::move(retention)) {}

Wal::~Wal() {
  if (fd_ >= 0) ::close(fd_);
}

std::string Wal::SegmentPath(Seq first_seq) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.log", static_cast<unsigned long long>(first_seq));
  return dir_ + "/" + name;
}

std::uint64_t Wal::SegmentCapBytes() const {
  return std::min(segment_bytes_, std::max(retention_.bytes / kCutsPerBound, kMinCutBytes));
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

Status Wal::Load(Seq applied, const HistoryId& history, std::vector<Replayed>& out) {
  std::scoped_lock lock(write_mu_, index_mu_);
  segments_.clear();
  Seq next = applied + 1;  // the record replay needs next
  const auto listed = ListSegments(dir_);
  for (std::size_t li = 0; li < listed.size(); ++li) {
    const Seq name_seq = listed[li].first;
    const std::string& path = listed[li].second;
    FileWindow file;
    if (!file.Open(path)) return Errno(errno, "reading " + path, store_dir_);
    bool failed = false;
    std::string_view head;
    if (!file.Get(0, kHeaderBytes, head, failed) && failed)
      return Errno(errno, "reading " + path, store_dir_);
    Header h;
    // A segment whose header never reached the disk was created for
    // records none of which were acknowledged (creation syncs the header
    // before any record is appended): nothing after it counts either.
    if (!DecodeHeader(head, h) || h.first_seq != name_seq) break;
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
    // The same for the records kept for readers: what an earlier segment
    // holds from h.first_seq on is superseded.
    while (!segments_.empty() && segments_.back().first_seq >= h.first_seq) segments_.pop_back();
    if (!segments_.empty() && segments_.back().next_seq() > h.first_seq) {
      Segment& prev = segments_.back();
      const std::size_t keep = static_cast<std::size_t>(h.first_seq - prev.first_seq);
      prev.end = prev.offsets[keep];
      prev.offsets.resize(keep);
    }
    const bool ours = h.history == history;
    // Readers are served one continuous run of records: a gap before this
    // segment (or a segment of another history) ends what came before.
    if (!ours || (!segments_.empty() && segments_.back().next_seq() != h.first_seq))
      segments_.clear();
    Segment seg{h.first_seq, path, file.size(), h.salt, nullptr, {}, kHeaderBytes};
    Seq seq = h.first_seq;
    const bool indexed =
        sync_ && li + 1 < listed.size() &&
        OffsetsFromIndex(path, h, listed[li + 1].first, applied, file, seg.offsets, seg.end);
    if (indexed) seq += seg.offsets.size();
    for (std::string_view rec; !indexed && file.Get(seg.end, kRecordHeaderBytes, rec, failed);) {
      const std::uint32_t len = LoadU32(rec.data());
      if (len < kFrameHeaderBytes + 8 || len > kMaxFrameBytes ||
          !file.Get(seg.end, kRecordHeaderBytes + len, rec, failed))
        break;
      const std::string_view body = rec.substr(kRecordHeaderBytes);
      if (seq <= applied) {
        // Applied already: indexed for readers only, and every Read checks
        // what it serves; walking the lengths keeps a reopen from reading
        // the checksums of the whole retained log.
        if (LoadU32(body.data()) != len - kFrameHeaderBytes || FrameSeq(body) != seq) break;
      } else {
        if (RecordCrc(h.salt, body) != LoadU32(rec.data() + 4)) break;
        std::string_view payload;
        std::size_t consumed = 0;
        if (NextFrame(body, payload, consumed) != FrameResult::kOk || consumed != len) break;
        if (FrameSeq(body) != seq) break;
      }
      if (seq == next) {
        if (!ours)
          return Status(Code::kDataLoss, "write-ahead log segment " + path +
                                             " belongs to another history");
        out.push_back({seq, std::string(body)});
        ++next;
      }
      seg.offsets.push_back(seg.end);
      seg.end += kRecordHeaderBytes + len;
      ++seq;
    }
    if (failed) return Errno(errno, "reading " + path, store_dir_);
    if (!ours) continue;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno(errno, "opening " + path, store_dir_);
    seg.reader = std::make_shared<const ReadFd>(fd);
    segments_.push_back(std::move(seg));
  }
  return Status::Ok();
}

Status Wal::StartSegment(Seq first_seq) {
  const bool low = LowOnSpace(dir_);  // one statvfs for the index and the preallocation
  // The segment being left gives back its preallocated tail: it stays for
  // readers until trimmed, and only its records need the space.
  std::string left_index, left_index_path;
  if (fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(offset_)) == 0 && !segments_.empty()) {
    {
      std::lock_guard index(index_mu_);
      segments_.back().allocated = offset_;
    }
    // And gets an index file once the new segment stands (see Load). Only
    // in sync mode, where its records are on disk before the index is
    // written; none for records in doubt, nor on a nearly full volume.
    const Segment& left = segments_.back();
    if (sync_ && doubt_from_ == 0 && !left.offsets.empty() && left.end == offset_ && !low) {
      left_index = EncodeIndex(left.first_seq, left.salt, left.offsets, left.end);
      left_index_path = IndexPathOf(left.path);
    }
  }
  const std::string path = SegmentPath(first_seq);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno(errno, "creating " + path, store_dir_);
  Header h;
  h.history = history_;
  h.first_seq = first_seq;
  h.salt = RandomSalt();
  const std::string header = EncodeHeader(h);
  // Preallocated up to a step, or less where segments are cut small (a
  // small retention bound): about what the last one held.
  std::uint64_t alloc = std::min(SegmentCapBytes(), kAllocStep);
  if (fd_ >= 0 && offset_ > kHeaderBytes) {
    constexpr std::uint64_t kGrain = 64 << 10;
    alloc = std::min(alloc, (offset_ + offset_ / 4 + kGrain - 1) / kGrain * kGrain);
  }
  if (low) alloc = 0;
  const std::uint64_t step = std::max<std::uint64_t>(alloc, 64 << 10);
  int err = 0;
  if (alloc != 0) err = Preallocate(fd, 0, alloc);
  if (err == 0 && !WriteAllAt(fd, header.data(), header.size(), 0)) err = errno;
  if (err == 0 && sync_ && ::fdatasync(fd) != 0) err = errno;
  int reader = -1;
  if (err == 0 && (reader = ::dup(fd)) < 0) err = errno;
  if (err != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return Errno(err, "creating write-ahead log segment " + path, store_dir_);
  }
  auto read_fd = std::make_shared<const ReadFd>(reader);
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
  salt_ = h.salt;
  rotate_ = false;
  alloc_step_ = step;
  // Its synced header makes Replay drop whatever an older segment holds from
  // first_seq on, records of a failed append included.
  if (doubt_from_ != 0 && first_seq <= doubt_from_) doubt_from_ = 0;
  std::lock_guard index(index_mu_);
  // Restarting at the first seq of the current segment (its first append
  // failed): the new file replaced it.
  if (!segments_.empty() && segments_.back().first_seq == first_seq) segments_.pop_back();
  segments_.push_back({first_seq, path, static_cast<std::uint64_t>(st.st_size), h.salt,
                       std::move(read_fd), {}, kHeaderBytes});
  next_seq_ = first_seq;
  if (!left_index.empty()) WriteIndexFile(left_index_path, left_index);
  return Status::Ok();
}

Status Wal::Reset(Seq next_seq, const HistoryId& history) {
  std::lock_guard lock(write_mu_);
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST)
    return Errno(errno, "creating " + dir_, store_dir_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  {
    std::lock_guard index(index_mu_);
    segments_.clear();
    first_ = next_seq;
    next_seq_ = next_seq;
    retained_bytes_ = 0;
  }
  for (std::string_view ext : {".log", ".idx"})
    for (const auto& [seq, path] : ListFiles(dir_, ext))
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return Errno(errno, "removing " + path, store_dir_);
  history_ = history;
  return StartSegment(next_seq);
}

Status Wal::Continue(Seq next_seq, const HistoryId& history) {
  std::scoped_lock lock(write_mu_, index_mu_);
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST)
    return Errno(errno, "creating " + dir_, store_dir_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  // Load indexed records up to the last it replayed; anything past
  // next_seq was not acknowledged.
  while (!segments_.empty() && segments_.back().first_seq >= next_seq) segments_.pop_back();
  if (!segments_.empty() && segments_.back().next_seq() > next_seq) {
    Segment& last = segments_.back();
    const std::size_t keep = static_cast<std::size_t>(next_seq - last.first_seq);
    last.end = last.offsets[keep];
    last.offsets.resize(keep);
  }
  // Records LMDB holds whose segments are gone leave nothing to serve.
  if (!segments_.empty() && segments_.back().next_seq() != next_seq) segments_.clear();
  // Files Load did not index hold nothing a reader may get (a header that
  // never reached the disk, records after a gap, another history's): they
  // go, like every segment Reset finds.
  for (const auto& listed : ListSegments(dir_)) {
    const std::string& path = listed.second;
    const bool kept = std::any_of(segments_.begin(), segments_.end(),
                                  [&](const Segment& s) { return s.path == path; });
    if (!kept && ::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Errno(errno, "removing " + path, store_dir_);
  }
  // Index files whose segment is gone (a crash between the two unlinks of
  // Retire), or was not kept.
  for (const auto& listed : ListFiles(dir_, ".idx")) {
    const std::string& path = listed.second;
    const bool kept = std::any_of(segments_.begin(), segments_.end(),
                                  [&](const Segment& s) { return IndexPathOf(s.path) == path; });
    if (!kept) ::unlink(path.c_str());
  }
  history_ = history;
  first_ = segments_.empty() ? next_seq : segments_.front().first_seq;
  retained_bytes_ = 0;
  for (const Segment& s : segments_)
    retained_bytes_ += s.end - kHeaderBytes - kRecordHeaderBytes * s.offsets.size();
  // The next append starts the new segment: on the full volume that made
  // the replay stop, even its header may not fit yet, and the store must
  // still open.
  next_seq_ = next_seq;
  rotate_ = true;
  TrimLocked(0);
  // The last segment Load kept is left for the next append's new one: it
  // gets its index file now, once its records are surely on disk (the
  // process that wrote them may have run without syncs).
  if (sync_ && !segments_.empty() && !segments_.back().offsets.empty() && !LowOnSpace(dir_)) {
    const Segment& last = segments_.back();
    const int fd = ::open(last.path.c_str(), O_RDONLY | O_CLOEXEC);
    const bool synced = fd >= 0 && ::fdatasync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (synced)
      WriteIndexFile(IndexPathOf(last.path),
                     EncodeIndex(last.first_seq, last.salt, last.offsets, last.end));
  }
  return Status::Ok();
}

Status Wal::Append(Seq first_seq, std::span<const std::string> frames, bool& in_doubt) {
  std::lock_guard lock(write_mu_);
  in_doubt = false;
  std::size_t total = 0;
  for (const std::string& f : frames) total += kRecordHeaderBytes + f.size();
  // A new segment when this one is full, or holds an eighth of the
  // retained records: the files then hold little beyond what is retained.
  const std::uint64_t cut_entries = std::max(retention_.entries / kCutsPerBound, kMinCutRecords);
  if (rotate_ || fd_ < 0 ||
      (offset_ > kHeaderBytes && (offset_ + total > SegmentCapBytes() ||
                                  segments_.back().offsets.size() >= cut_entries))) {
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
    std::uint64_t want = std::max(end, std::min(seg.allocated + alloc_step_,
                                                std::max(SegmentCapBytes(), end)));
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
    if (rc == 0) {
      std::lock_guard index(index_mu_);
      seg.allocated = want;
    } else {
      err = rc;
    }
  }
  if (err == 0) {
    wrote = true;
    if (!WriteAllAt(fd_, buf.data(), buf.size(), offset_)) err = errno;
  }
  if (err == 0 && sync_ && ::fdatasync(fd_) != 0) err = errno;
  if (err == 0) {
    std::lock_guard index(index_mu_);
    std::uint64_t at = offset_;
    for (const std::string& f : frames) {
      seg.offsets.push_back(at);
      at += kRecordHeaderBytes + f.size();
      retained_bytes_ += f.size();
    }
    seg.end = end;
    offset_ = end;
    next_seq_ = first_seq + frames.size();
    TrimLocked(0);
    return Status::Ok();
  }
  // Nothing of this append may survive to be replayed: cut the segment back
  // to its last good record (a failed sync may still have written some of
  // it), and write the next group to a new segment.
  rotate_ = true;
  bool cut = ::ftruncate(fd_, static_cast<off_t>(offset_)) == 0;
  if (cut) {
    std::lock_guard index(index_mu_);
    seg.allocated = offset_;
  }
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

const Wal::Segment* Wal::Find(Seq seq) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), seq,
                             [](Seq s, const Segment& seg) { return s < seg.first_seq; });
  if (it == segments_.begin()) return nullptr;
  --it;
  return seq < it->next_seq() ? &*it : nullptr;
}

void Wal::TrimLocked(Seq applied_if_low) {
  bool floor_known = false;
  Seq floor = 0;
  // Records [first_, next_seq_) are retained; one always stays, unless the
  // volume is low and it is applied.
  while (first_ < next_seq_) {
    const std::uint64_t entries = next_seq_ - first_;
    bool trim = first_ <= applied_if_low;
    if (!trim && entries > 1) {
      // Over the byte cap a record goes regardless of holds; over the entry
      // bound only if no hold protects it (holds protect records after
      // their seq).
      trim = retained_bytes_ > retention_.bytes;
      if (!trim && entries > retention_.entries) {
        if (!floor_known) {
          floor = retention_.hold_floor ? retention_.hold_floor() : UINT64_MAX;
          floor_known = true;
        }
        trim = first_ <= floor;
      }
    }
    if (!trim) break;
    if (const Segment* s = Find(first_)) {
      const std::uint64_t bytes =
          s->RecordBytes(static_cast<std::size_t>(first_ - s->first_seq)) - kRecordHeaderBytes;
      retained_bytes_ -= std::min(retained_bytes_, bytes);
    }
    ++first_;
  }
}

void Wal::Retire(Seq applied) {
  std::lock_guard lock(write_mu_);
  if (LowOnSpace(dir_)) {
    bool swap = false;
    {
      std::lock_guard index(index_mu_);
      TrimLocked(applied);
      swap = fd_ >= 0 && !rotate_ && first_ == next_seq_ && offset_ > kHeaderBytes;
    }
    // A fully applied and trimmed current segment is swapped for a fresh one
    // at once, so its file can go too.
    if (swap) (void)StartSegment(next_seq_);
  }
  std::vector<std::string> gone;
  {
    std::lock_guard index(index_mu_);
    std::size_t drop = 0;
    while (drop < segments_.size()) {
      const Segment& s = segments_[drop];
      const bool appending = drop + 1 == segments_.size() && fd_ >= 0 && !rotate_;
      if (appending || s.next_seq() > first_ || s.next_seq() > applied + 1) break;
      gone.push_back(s.path);
      ++drop;
    }
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  if (gone.empty()) return;
  for (const std::string& path : gone) {
    ::unlink(path.c_str());
    ::unlink(IndexPathOf(path).c_str());
  }
  (void)SyncDir();
}

Status Wal::Read(Seq from, Seq upto, std::size_t max_bytes, std::string& frames,
                 Seq& to) const {
  // What to read, copied under the lock; the reads run without it, so
  // appends never wait on them.
  struct Piece {
    std::shared_ptr<const ReadFd> reader;
    std::string path;
    std::uint64_t salt;
    Seq first;
    std::vector<std::uint64_t> offsets;  // the records', then where the last ends
  };
  std::vector<Piece> pieces;
  {
    std::lock_guard lock(index_mu_);
    if (from < first_)
      return Status(Code::kOutOfRange, "records before " + std::to_string(first_) +
                                           " were trimmed from the log");
    std::uint64_t bytes = 0;
    bool full = false;
    for (Seq seq = from; seq <= upto && !full;) {
      const Segment* s = Find(seq);
      if (s == nullptr) break;
      Piece p{s->reader, s->path, s->salt, seq, {}};
      for (std::size_t i = static_cast<std::size_t>(seq - s->first_seq);
           i < s->offsets.size() && seq <= upto; ++i, ++seq) {
        const std::uint64_t len = s->RecordBytes(i) - kRecordHeaderBytes;
        if (bytes != 0 && bytes + len > max_bytes) {
          full = true;
          break;
        }
        bytes += len;
        p.offsets.push_back(s->offsets[i]);
      }
      if (p.offsets.empty()) break;
      const std::size_t last = static_cast<std::size_t>(seq - 1 - s->first_seq);
      p.offsets.push_back(s->offsets[last] + s->RecordBytes(last));
      pieces.push_back(std::move(p));
    }
  }
  if (pieces.empty())
    return Status(Code::kOutOfRange, "record " + std::to_string(from) + " is not in the log");
  std::string buf;
  for (const Piece& p : pieces) {
    const std::uint64_t begin = p.offsets.front(), size = p.offsets.back() - begin;
    buf.resize(static_cast<std::size_t>(size));
    std::size_t got = 0;
    if (!ReadAt(p.reader->fd, buf.data(), buf.size(), begin, got))
      return Errno(errno, "reading " + p.path, store_dir_);
    for (std::size_t i = 0; i + 1 < p.offsets.size(); ++i) {
      const Seq seq = p.first + i;
      const std::size_t at = static_cast<std::size_t>(p.offsets[i] - begin);
      const std::size_t len = static_cast<std::size_t>(p.offsets[i + 1] - p.offsets[i]);
      // The bytes were checked when written or loaded; a changed one since
      // means the file is damaged, and nothing of it goes out unchecked.
      const bool whole = at + len <= got && len > kRecordHeaderBytes &&
                         LoadU32(buf.data() + at) == len - kRecordHeaderBytes;
      const std::string_view body =
          whole ? std::string_view(buf).substr(at + kRecordHeaderBytes, len - kRecordHeaderBytes)
                : std::string_view();
      if (!whole || RecordCrc(p.salt, body) != LoadU32(buf.data() + at + 4) ||
          body.size() < kFrameHeaderBytes + 8 || FrameSeq(body) != seq)
        return Status(Code::kDataLoss, "write-ahead log segment " + p.path +
                                           " is damaged at seq " + std::to_string(seq));
      frames.append(body);
      to = seq;
    }
  }
  return Status::Ok();
}

Wal::Retained Wal::Info() const {
  std::lock_guard lock(index_mu_);
  return {first_, next_seq_ - first_, retained_bytes_};
}

bool Wal::InDoubt() const {
  std::lock_guard lock(write_mu_);
  return doubt_from_ != 0;
}

std::uint64_t Wal::FreeBytesIfLow() const {
  const std::uint64_t free = FreeBytes(dir_);
  return free < kLowSpace ? free : UINT64_MAX;
}

std::uint64_t Wal::Bytes() const {
  std::lock_guard lock(index_mu_);
  std::uint64_t n = 0;
  for (const Segment& s : segments_) n += s.allocated;
  return n;
}

}  // namespace mehdb::internal

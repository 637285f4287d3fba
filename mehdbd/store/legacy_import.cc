// SPDX-License-Identifier: MIT
#include "store/legacy_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mehdb/store.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "base/log.h"
#include "store/store_handle.h"

namespace mehdbd {
namespace {

namespace fs = std::filesystem;
using mehdb::Code;
using mehdb::Status;

constexpr const char* kMarker = ".import-in-progress";
constexpr const char* kCurrentLink = "current";
constexpr const char* kContent = "content";
// Imported keys are written in batches of about this size: the staged store
// is invisible until `current` names it, so its batches need not be one
// transaction, and an import of a full volume must not hold it all in memory.
constexpr std::size_t kBatchBytes = std::size_t{32} << 20;
constexpr std::size_t kBatchKeys = 10000;
// Reports beyond this many are summed up in one line.
constexpr std::size_t kMaxReportLines = 50;

// The keys the original accepted: its route was /set/{key:[a-z]+}; its
// filesystem limits a directory name to 255 bytes.
bool IsOriginalKey(const std::string& name) {
  return !name.empty() && name.size() <= 255 &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Our own entries in a data directory (store_handle.h, this file).
bool IsOurs(const std::string& name) {
  return name == kCurrentLink || name == std::string(kCurrentLink) + ".tmp" ||
         name == kLegacyArchiveDir || name.rfind("store-", 0) == 0;
}

Status ErrnoStatus(int err, const std::string& what) {
  Code code = Code::kInternal;
  if (err == ENOSPC || err == EDQUOT) code = Code::kNoSpace;
  if (err == EACCES || err == EPERM || err == EROFS) code = Code::kReadOnly;
  return Status(code, what + ": " + std::strerror(err), err);
}

void SyncDirEntries(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// One key found in the original's layout.
struct LegacyKey {
  std::string name;
  fs::path dir;  // DATADIR/<name> or DATADIR/mehdb-0.6/<name>
};

// What a scan of one directory found.
struct ScanResult {
  std::vector<LegacyKey> keys;
  std::vector<std::string> reports;  // entries left alone, one line each
};

// Classifies the entries of `dir`: DATADIR when `shown_as` is empty, else
// the archive (names shown prefixed with `shown_as`). lstat, never
// stat: a symlink is something the original never made, and following one
// could import a file from anywhere on the node.
Status ScanDir(const fs::path& dir, const std::string& shown_as, ScanResult& out) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Status(Code::kInternal, "reading " + dir.string() + ": " + ec.message());
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return Status(Code::kInternal, "reading " + dir.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (name == kMarker) continue;
    const std::string shown = shown_as + name;
    const fs::path path = dir / name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      out.reports.push_back(shown + ": cannot stat (" + std::strerror(errno) + "), left in place");
      continue;
    }
    // Ours, except a directory "current": that is the original's key.
    if (shown_as.empty() && IsOurs(name) &&
        !(name == kCurrentLink && S_ISDIR(st.st_mode)))
      continue;
    if (!S_ISDIR(st.st_mode)) {
      out.reports.push_back(shown + ": not a directory, so not a key of the original; left in place");
      continue;
    }
    struct stat content {};
    const bool has_content = ::lstat((path / kContent).c_str(), &content) == 0;
    if (!has_content) {
      out.reports.push_back(shown + ": no content file, so not a key of the original; left in place");
      continue;
    }
    if (!IsOriginalKey(name)) {
      out.reports.push_back(shown + ": a name the original could not have written (keys are " +
                            "[a-z]{1,255}); not imported, left in place");
      continue;
    }
    if (!S_ISREG(content.st_mode)) {
      out.reports.push_back(shown + "/content: not a regular file; key not imported, left in place");
      continue;
    }
    // Extra files beside `content`: reported, and moved with the key.
    for (const auto& extra : fs::directory_iterator(path, ec)) {
      const std::string extra_name = extra.path().filename().string();
      if (extra_name != kContent)
        out.reports.push_back(shown + "/" + extra_name +
                              ": not written by the original; kept with the key's files");
    }
    out.keys.push_back(LegacyKey{name, path});
  }
  return Status::Ok();
}

// The whole file at `path`, refusing anything over `limit` bytes.
mehdb::Result<std::string> ReadValue(const fs::path& path, std::size_t limit,
                                     const std::string& key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "reading " + path.string());
  std::string value;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    if (static_cast<std::uint64_t>(st.st_size) > limit) {
      ::close(fd);
      return Status(Code::kValueTooLarge,
                    "key " + key + " holds " + std::to_string(st.st_size) +
                        " bytes, more than --max-value-size (" + std::to_string(limit) +
                        " bytes); raise it to import this volume");
    }
    value.reserve(static_cast<std::size_t>(st.st_size));
  }
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "reading " + path.string());
    }
    if (n == 0) break;
    value.append(buf, static_cast<std::size_t>(n));
    if (value.size() > limit) {  // grew while we read it
      ::close(fd);
      return Status(Code::kValueTooLarge, "key " + key + " is over --max-value-size");
    }
  }
  ::close(fd);
  return value;
}

Status MoveInto(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return ErrnoStatus(errno, "moving " + from.string() + " to " + to.string());
  return Status::Ok();
}

void LogReports(const std::vector<std::string>& reports) {
  for (std::size_t i = 0; i < reports.size() && i < kMaxReportLines; ++i)
    LogWarning("import of mehdb 0.6: " + reports[i]);
  if (reports.size() > kMaxReportLines)
    LogWarning("import of mehdb 0.6: " + std::to_string(reports.size() - kMaxReportLines) +
               " more entries left alone like the above");
}

// After a crash between the switch and the end of the moves.
Status FinishMoves(const fs::path& data, const fs::path& archive) {
  ScanResult top;
  if (Status s = ScanDir(data, "", top); !s.ok()) return s;
  for (const LegacyKey& key : top.keys) {
    if (Status s = MoveInto(key.dir, archive / key.name); !s.ok()) return s;
  }
  SyncDirEntries(archive);
  SyncDirEntries(data);
  std::error_code ec;
  fs::remove(archive / kMarker, ec);
  if (ec) return Status(Code::kInternal, "removing the import marker: " + ec.message());
  SyncDirEntries(archive);
  LogInfo("import of mehdb 0.6: finished moving the original's files into " +
          archive.string() + " (" + std::to_string(top.keys.size()) +
          " moved after an interruption)");
  return Status::Ok();
}

Status WriteMarker(const fs::path& archive) {
  const fs::path marker = archive / kMarker;
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "creating " + marker.string());
  static constexpr char kText[] =
      "mehdbd is importing the original's keys; it finishes or restarts the import at its "
      "next start\n";
  const bool ok = ::write(fd, kText, sizeof kText - 1) == static_cast<ssize_t>(sizeof kText - 1) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return ErrnoStatus(err, "writing " + marker.string());
  SyncDirEntries(archive);
  return Status::Ok();
}

// Step 2: every key into a new store at `dir`, synced and closed on return;
// the value bytes written.
mehdb::Result<std::uint64_t> WriteStagedStore(const fs::path& dir, const mehdb::Options& options,
                                              const std::vector<LegacyKey>& keys) {
  mehdb::Options store_options = options;
  store_options.create_if_missing = true;
  store_options.durability = mehdb::Durability::kSync;  // on disk before the switch
  auto store = mehdb::Store::Open(dir.string(), store_options);
  if (!store.ok()) return store.status();
  std::uint64_t total_bytes = 0;
  mehdb::Batch batch;
  std::size_t batch_bytes = 0, batch_keys = 0;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    auto done = (*store)->Write(batch);
    if (!done.ok()) return done.status();
    batch = mehdb::Batch();
    batch_bytes = batch_keys = 0;
    return Status::Ok();
  };
  for (const LegacyKey& key : keys) {
    auto value = ReadValue(key.dir / kContent, options.max_value_bytes, key.name);
    if (!value.ok()) return value.status();
    total_bytes += value->size();
    batch_bytes += value->size() + key.name.size();
    batch.Put(key.name, *value);
    if (++batch_keys >= kBatchKeys || batch_bytes >= kBatchBytes) {
      if (Status s = flush(); !s.ok()) return s;
    }
  }
  if (Status s = flush(); !s.ok()) return s;
  return total_bytes;
}

}  // namespace

Status ImportLegacyLayout(const std::string& datadir, const mehdb::Options& options) {
  const fs::path data(datadir);
  const fs::path archive = data / kLegacyArchiveDir;
  std::error_code ec;
  const bool have_store = fs::is_symlink(data / kCurrentLink, ec);
  const bool have_archive = fs::is_directory(archive, ec);
  const bool interrupted = have_archive && fs::exists(archive / kMarker, ec);

  if (have_store) {
    // The store is complete: a file that cannot be moved is no reason to
    // keep the daemon down (the next start tries again).
    if (interrupted) {
      if (Status s = FinishMoves(data, archive); !s.ok())
        LogWarning("import of mehdb 0.6: the store is complete, but " + s.ToString() +
                   "; the next start tries again");
      return Status::Ok();
    }
    // A second start, or keys of the original written beside our store
    // (by a rolled-back original): never mixed in silently.
    ScanResult top;
    if (Status s = ScanDir(data, "", top); !s.ok()) return s;
    if (!top.keys.empty())
      LogWarning("import of mehdb 0.6: " + std::to_string(top.keys.size()) +
                 " key directories of the original (such as " + top.keys.front().name +
                 ") sit beside this store and are not imported: the store was imported or "
                 "created before them (see kustomize/README.md, rolling back)");
    return Status::Ok();
  }

  ScanResult found;
  if (Status s = ScanDir(data, "", found); !s.ok()) return s;
  if (interrupted) {
    if (Status s = ScanDir(archive, std::string(kLegacyArchiveDir) + "/", found); !s.ok())
      return s;
  }
  if (have_archive && !interrupted) {
    return Status(Code::kFailedPrecondition,
                  archive.string() + " holds the original's files from an earlier import but " +
                      datadir + " has no store; to import them again move them back into " +
                      datadir + ", to start empty move " + kLegacyArchiveDir + " away");
  }
  if (found.keys.empty()) {
    if (interrupted) {  // crashed before anything was found worth importing
      fs::remove(archive / kMarker, ec);
      fs::remove(archive, ec);
    }
    if (!found.reports.empty()) LogReports(found.reports);
    return Status::Ok();
  }
  std::sort(found.keys.begin(), found.keys.end(),
            [](const LegacyKey& a, const LegacyKey& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < found.keys.size(); ++i) {
    if (found.keys[i].name == found.keys[i - 1].name)
      return Status(Code::kFailedPrecondition,
                    "key " + found.keys[i].name + " is both in " + datadir + " and in " +
                        archive.string() + "; remove the older copy");
  }
  LogInfo("import of mehdb 0.6: " + std::to_string(found.keys.size()) + " keys in " + datadir +
          (interrupted ? " (restarting an interrupted import)" : ""));
  LogReports(found.reports);

  // 1. The archive and its marker.
  if (!have_archive && ::mkdir(archive.c_str(), 0755) != 0)
    return ErrnoStatus(errno, "creating " + archive.string());
  SyncDirEntries(data);
  if (Status s = WriteMarker(archive); !s.ok()) return s;

  // 2. The staged store, from scratch (a crashed attempt's is discarded).
  for (const auto& entry : fs::directory_iterator(data, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("store-", 0) == 0 || name == std::string(kCurrentLink) + ".tmp")
      fs::remove_all(entry.path(), ec);
  }
  const std::string store_name = StoreHandle::StoreDirName(1);
  auto written = WriteStagedStore(data / store_name, options, found.keys);
  if (!written.ok()) return written.status();
  const std::uint64_t total_bytes = *written;

  // 3. The switch. A key named "current" must make room for the link first;
  // until the link exists its directory is found in the archive.
  for (const LegacyKey& key : found.keys) {
    if (key.name == kCurrentLink && key.dir.parent_path() == data) {
      if (Status s = MoveInto(key.dir, archive / key.name); !s.ok()) return s;
      SyncDirEntries(archive);
      SyncDirEntries(data);
    }
  }
  if (Status s = StoreHandle::LinkCurrent(datadir, store_name); !s.ok()) return s;

  // 4. The originals out of the way, kept. The store is complete from here
  // on, so a failed move is a warning (the marker stays; the next start
  // tries again), not a reason to stop.
  for (const LegacyKey& key : found.keys) {
    if (key.dir.parent_path() != data || key.name == kCurrentLink) continue;
    if (Status s = MoveInto(key.dir, archive / key.name); !s.ok()) {
      LogWarning("import of mehdb 0.6: imported " + std::to_string(found.keys.size()) +
                 " keys (" + std::to_string(total_bytes) + " bytes), but " + s.ToString() +
                 "; the next start tries again");
      return Status::Ok();
    }
  }
  SyncDirEntries(archive);
  SyncDirEntries(data);
  fs::remove(archive / kMarker, ec);
  SyncDirEntries(archive);
  LogInfo("import of mehdb 0.6: imported " + std::to_string(found.keys.size()) + " keys (" +
          std::to_string(total_bytes) + " bytes); the original's files are kept in " +
          archive.string() + " until you remove them");
  return Status::Ok();
}

}  // namespace mehdbd

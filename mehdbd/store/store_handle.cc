// SPDX-License-Identifier: MIT
#include "store/store_handle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace mehdbd {
namespace fs = std::filesystem;
using mehdb::Code;
using mehdb::Status;

namespace {

constexpr const char* kCurrent = "current";

// "store-000042" -> 42; 0 for anything else.
unsigned StoreNumber(const std::string& name) {
  if (name.size() != 12 || name.rfind("store-", 0) != 0) return 0;
  unsigned n = 0;
  for (char c : name.substr(6)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n;
}

Status FsError(const std::error_code& ec, const std::string& what) {
  Code code = Code::kInternal;
  if (ec == std::errc::no_space_on_device) code = Code::kNoSpace;
  if (ec == std::errc::permission_denied || ec == std::errc::read_only_file_system)
    code = Code::kReadOnly;
  return Status(code, what + ": " + ec.message(), ec.value());
}

// Makes a directory entry change (the symlink rename) durable.
void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::string StoreHandle::StoreDirName(unsigned n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "store-%06u", n);
  return buf;
}

Status StoreHandle::LinkCurrent(const std::string& datadir, const std::string& name) {
  const fs::path tmp = fs::path(datadir) / (std::string(kCurrent) + ".tmp");
  const fs::path link = fs::path(datadir) / kCurrent;
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_directory_symlink(name, tmp, ec);
  if (ec) return FsError(ec, "linking the new store");
  fs::rename(tmp, link, ec);  // atomic: `current` names the old or the new store
  if (ec) return FsError(ec, "switching to the new store");
  SyncDir(datadir);
  return Status::Ok();
}

mehdb::Result<std::unique_ptr<StoreHandle>> StoreHandle::Open(const std::string& datadir,
                                                              const mehdb::Options& options) {
  std::error_code ec;
  fs::create_directories(datadir, ec);
  if (ec) return FsError(ec, "creating " + datadir);
  std::unique_ptr<StoreHandle> h(new StoreHandle(datadir, options));

  const fs::path link = fs::path(datadir) / kCurrent;
  std::string name;
  if (fs::is_symlink(link, ec)) name = fs::read_symlink(link, ec).string();
  // Open the live store first: it is locked to one process (kUnavailable
  // if another daemon runs here), and that daemon's snapshot being loaded
  // beside it must not be taken for a leftover and removed.
  if (!name.empty()) {
    auto store = h->OpenDir(name, /*create=*/false);
    if (!store.ok()) return store.status();
    h->current_ = std::move(*store);
    h->current_name_ = name;
  }
  // Leftovers of an interrupted load or swap: anything not `current`.
  for (const auto& entry : fs::directory_iterator(datadir, ec)) {
    const std::string n = entry.path().filename().string();
    const unsigned number = StoreNumber(n);
    if (number >= h->next_number_) h->next_number_ = number + 1;
    if (number != 0 && n != name) fs::remove_all(entry.path(), ec);
    if (n == std::string(kCurrent) + ".tmp") fs::remove(entry.path(), ec);
  }
  // A backup dropped straight into the directory (an LMDB data file where
  // no store lives) would otherwise sit ignored beside a new, empty store.
  if (name.empty() && fs::exists(fs::path(datadir) / "data.mdb", ec)) {
    return Status(Code::kFailedPrecondition,
                  (fs::path(datadir) / "data.mdb").string() +
                      " is not where mehdbd keeps its store; to restore a backup, move it "
                      "out of " + datadir + " and start mehdbd --restore-from FILE");
  }
  if (name.empty()) {
    auto fresh = h->CreateFresh();
    if (!fresh.ok()) return fresh.status();
    if (Status s = h->Promote(std::move(*fresh)); !s.ok()) return s;
  }
  return h;
}

mehdb::Result<std::shared_ptr<mehdb::Store>> StoreHandle::OpenDir(const std::string& name,
                                                                  bool create) {
  mehdb::Options o = options_;
  o.create_if_missing = create;
  const std::string dir = (fs::path(datadir_) / name).string();
  auto store = mehdb::Store::Open(dir, o);
  if (!store.ok()) return store.status();
  const std::string link = (fs::path(datadir_) / kCurrent).string();
  // When the last user lets go of a store that is no longer current, its
  // directory goes too.
  return std::shared_ptr<mehdb::Store>(store->release(), [dir, link, name](mehdb::Store* s) {
    delete s;
    std::error_code ec;
    if (fs::read_symlink(link, ec).string() != name) fs::remove_all(dir, ec);
  });
}

std::shared_ptr<mehdb::Store> StoreHandle::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

mehdb::Result<StoreHandle::Fresh> StoreHandle::CreateFresh() {
  std::string name;
  {
    std::lock_guard lock(mu_);
    name = StoreDirName(next_number_++);
  }
  std::error_code ec;
  fs::remove_all(fs::path(datadir_) / name, ec);
  auto store = OpenDir(name, /*create=*/true);
  if (!store.ok()) return store.status();
  return Fresh{name, std::move(*store)};
}

mehdb::Result<StoreHandle::Fresh> StoreHandle::CreateFromDataFile(const std::string& data_file) {
  std::error_code ec;
  if (!fs::is_regular_file(data_file, ec))
    return Status(Code::kNotFound, data_file + " is not a readable regular file");
  std::string name;
  {
    std::lock_guard lock(mu_);
    name = StoreDirName(next_number_++);
  }
  const fs::path dir = fs::path(datadir_) / name;
  fs::remove_all(dir, ec);
  fs::create_directory(dir, ec);
  if (ec) return FsError(ec, "creating " + dir.string());
  const fs::path copy = dir / "data.mdb";
  fs::copy_file(data_file, copy, ec);
  if (ec) {
    fs::remove_all(dir, ec);
    return FsError(ec, "copying " + data_file + " to " + copy.string());
  }
  // On disk before `current` can name it.
  int fd = ::open(copy.c_str(), O_RDWR);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced) {
    fs::remove_all(dir, ec);
    return Status(Code::kInternal, "cannot sync " + copy.string());
  }
  SyncDir(dir.string());
  auto store = OpenDir(name, /*create=*/false);
  if (!store.ok()) {
    fs::remove_all(dir, ec);
    return Status(store.status().code(),
                  data_file + " does not open as a mehdb store: " + store.status().ToString());
  }
  return Fresh{name, std::move(*store)};
}

Status StoreHandle::Promote(Fresh fresh) {
  if (Status s = LinkCurrent(datadir_, fresh.dir); !s.ok()) return s;
  std::shared_ptr<mehdb::Store> old;
  {
    std::lock_guard lock(mu_);
    old = std::exchange(current_, std::move(fresh.store));
    current_name_ = fresh.dir;
  }
  // Whoever waits for the old store's sequence (the sequence watcher) looks
  // at the new one now, not when its wait times out: requests parked for a
  // seq would otherwise sit out that wait although the new store has it.
  if (old) old->EndSeqWaits();
  return Status::Ok();  // `old` is released here or by its last request
}

void StoreHandle::Discard(Fresh fresh) { fresh.store.reset(); }

}  // namespace mehdbd

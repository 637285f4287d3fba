// SPDX-License-Identifier: MIT
//
// Scenario 4: the data volume fails under write load, and comes back.
//
//  * Full: the data directory is a small tmpfs; a test file fills it while
//    writers (small and 512 KiB values) keep writing. Writes must answer
//    507 (never another 5xx: a write the full disk cut short surfaces from
//    LMDB as EIO), reads keep working, and once the file is deleted writes
//    succeed again on the same running daemon.
//  * Read-only: Linux will not remount a filesystem read-only while a file
//    on it is open for writing (EBUSY; a bind mount too), which mehdbd's
//    store always is. What does happen to a running pod is the kernel
//    turning the volume read-only after an error (ext4 errors=remount-ro),
//    so the data directory is an ext4 image on a loop device and the test
//    triggers an ext4 error through sysfs. Writes must answer 5xx naming the
//    read-only volume, reads keep working, the daemon stays up. Such a volume
//    only comes back through unmount and fsck, so the fix is: stop mehdbd,
//    fsck, mount, start; then every acknowledged write is there and writes
//    succeed.
//
// Both need root (mounts); they run in a private mount namespace so nothing
// leaks to the host, and skip with a message otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "pod.h"
#include "stress.h"

namespace mehdb::stress {
namespace {

using cluster::Pod;
using cluster::Ports;
using cluster::WaitUntil;
using std::chrono::milliseconds;
using std::chrono::seconds;

class Volume : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount the data volume";
    // Our mounts stay in this process's namespace (and its children's:
    // the daemon's).
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      GTEST_SKIP() << "cannot make a private mount namespace: " << std::strerror(errno);
    pod_ = std::make_unique<Pod>(dir_.path(), 0, Ports::ForThisProcess());
    std::filesystem::create_directories(pod_->datadir());
  }
  void TearDown() override {
    pod_.reset();
    if (mounted_) umount2(pod_datadir_.c_str(), MNT_DETACH);
  }

  // Sums statuses seen so far that are not in `allowed`.
  static long Others(const std::map<int, long>& statuses, std::initializer_list<int> allowed) {
    long n = 0;
    for (const auto& [status, count] : statuses)
      if (std::find(allowed.begin(), allowed.end(), status) == allowed.end()) n += count;
    return n;
  }
  static long Count(const std::map<int, long>& statuses, int status) {
    auto it = statuses.find(status);
    return it == statuses.end() ? 0 : it->second;
  }

  std::string pod_log() const { return dir_.path() + "/mehdb-0.log"; }

  WorkDir dir_;
  std::unique_ptr<Pod> pod_;
  std::string pod_datadir_;
  bool mounted_ = false;
};

std::size_t CountLines(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

// Writes `path` until the filesystem has no room left; answers the bytes.
std::size_t FillUp(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return 0;
  std::string chunk(1 << 20, 'f');
  std::size_t total = 0;
  for (std::size_t size = chunk.size(); size >= 512;) {
    const ssize_t n = ::write(fd, chunk.data(), size);
    if (n > 0) total += static_cast<std::size_t>(n);
    if (n < static_cast<ssize_t>(size)) size /= 2;  // full at this size: try smaller
  }
  ::close(fd);
  return total;
}

TEST_F(Volume, FullDiskAnswers507AndRecoversWhenSpaceIsFreed) {
  pod_datadir_ = pod_->datadir();
  ASSERT_EQ(mount("tmpfs", pod_datadir_.c_str(), "tmpfs", 0, "size=24m"), 0)
      << std::strerror(errno);
  mounted_ = true;
  pod_->Start();
  ReportRss("full: before", pod_->pid());

  Writers::Options options;
  options.writers = 4;
  options.keys_per_writer = 8;
  options.prefix = "f";
  // Mostly small values, every fourth one large: a large write is the one
  // the full disk cuts short half-way.
  options.value_bytes = [](std::size_t n) -> std::size_t { return n % 4 == 0 ? 512 << 10 : 1024; };
  auto writers = std::make_unique<Writers>(*pod_, options);
  ASSERT_TRUE(WaitUntil([&] { return writers->acked() > 50; }));

  const std::string filler = pod_datadir_ + "/filler";
  const std::size_t filled = FillUp(filler);
  // Give back a little less than one large value: the next large write
  // then runs out half-way (a short write), the case LMDB reports as EIO.
  std::filesystem::resize_file(filler, filled - (384 << 10));
  std::printf("full: filler took %zu KiB\n", filled >> 10);
  ASSERT_TRUE(WaitUntil([&] { return Count(writers->statuses(), 507) > 20; }, seconds(20)))
      << "no 507 once the volume is full";
  // Reads and health are unaffected while full.
  writers->Pause();
  ExpectLedgersHold(*pod_, writers->ledgers(), "full: while the volume is full");
  EXPECT_EQ(pod_->Status("/healthz"), 200);
  ReportRss("full: while full", pod_->pid());
  const long acked_while_full = writers->acked();
  writers->Resume();

  std::filesystem::remove(filler);
  ASSERT_TRUE(WaitUntil([&] { return writers->acked() > acked_while_full + 50; }, seconds(20)))
      << "writes did not resume after the filler was deleted";
  const auto statuses = writers->statuses();
  writers->Pause();
  std::printf("full: %ld written, %ld answered 507 (%s)\n", Count(statuses, 200),
              Count(statuses, 507), writers->BodyFor(507).c_str());
  EXPECT_EQ(Others(statuses, {200, 507}), 0)
      << "other answers, e.g. " << writers->BodyFor(500) << writers->BodyFor(0);
  EXPECT_EQ(writers->BodyFor(507), "insufficient storage: the data volume is full\n");
  // How the full disk reached the store, for the record: with the
  // write-ahead log a write is refused (kNoSpace, 507) before anything is
  // written when the volume lacks the room to log and apply it, so an ENOSPC
  // or a write cut short (EIO) need not happen at all; before the log, the
  // large write ran out half-way. The 507s above and the ledgers below are
  // what this test holds the daemon to.
  std::printf("full: daemon log: %zu ENOSPC failures, %zu short writes (EIO on a full volume)\n",
              CountLines(pod_log(), "No space left"), CountLines(pod_log(), "(the volume is full)"));

  ExpectLedgersHold(*pod_, writers->ledgers(), "full: after space was freed");
  pod_->Kill();
  pod_->Start();
  ReportRss("full: after SIGKILL and restart", pod_->pid());
  ExpectLedgersHold(*pod_, writers->ledgers(), "full: after SIGKILL and restart");
  writers.reset();
}

// The loop device behind the mount at `dir` ("loop3"), from mountinfo.
std::string LoopDeviceOf(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    if (point != dir) continue;
    const auto dash = line.find(" - ");
    std::istringstream rest(line.substr(dash + 3));
    std::string type, source;
    rest >> type >> source;
    if (source.rfind("/dev/", 0) == 0) found = source.substr(5);  // the last mount wins
  }
  return found;
}

int Shell(const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST_F(Volume, ReadOnlyVolumeAnswersClearly5xxAndRecoversAfterFsck) {
  pod_datadir_ = pod_->datadir();
  const std::string image = dir_.path() + "/volume.img";
  if (Shell("command -v mkfs.ext4 && command -v e2fsck") != 0)
    GTEST_SKIP() << "needs mkfs.ext4 and e2fsck (e2fsprogs)";
  ASSERT_EQ(Shell("truncate -s 64M " + image + " && mkfs.ext4 -q -F " + image), 0);
  const std::string mount_cmd = "mount -o loop,errors=remount-ro " + image + " " + pod_datadir_;
  if (Shell(mount_cmd) != 0) GTEST_SKIP() << "cannot mount an ext4 image on a loop device here";
  mounted_ = true;
  const std::string trigger = "/sys/fs/ext4/" + LoopDeviceOf(pod_datadir_) + "/trigger_fs_error";
  if (!std::filesystem::exists(trigger)) GTEST_SKIP() << "no " << trigger << " in this kernel";

  pod_->Start();
  ReportRss("read-only: before", pod_->pid());
  Writers::Options options;
  options.writers = 4;
  options.keys_per_writer = 16;
  options.prefix = "r";
  options.value_bytes = [](std::size_t) -> std::size_t { return 1024; };
  auto writers = std::make_unique<Writers>(*pod_, options);
  ASSERT_TRUE(WaitUntil([&] { return writers->acked() > 50; }));

  {
    std::ofstream(trigger) << "mehdb stress test: volume goes read-only";
  }
  ASSERT_TRUE(WaitUntil([&] { return Count(writers->statuses(), 500) > 20; }, seconds(20)))
      << "writes did not fail on the read-only volume";
  writers->Pause();
  const auto statuses = writers->statuses();
  std::printf("read-only: %ld written, %ld answered 500 (%s)\n", Count(statuses, 200),
              Count(statuses, 500), writers->BodyFor(500).c_str());
  EXPECT_EQ(Others(statuses, {200, 500}), 0);
  // Every 500 says why (one distinct body).
  EXPECT_EQ(writers->BodyFor(500), "store error: the data volume is read-only\n");
  // The daemon is up. Reads never return wrong data, nor a state the
  // restart below contradicts. They work but for two cases:
  //  * the failed write was LMDB's meta page, after which LMDB refuses the
  //    whole environment (MDB_PANIC) and reads answer 500 until the restart:
  //    each such read must be logged with MDB_PANIC;
  //  * a write whose log append failed and could not be cut off (the volume
  //    was read-only by then) may or may not be on disk: its key answers 503
  //    until the restart decides. Only a key with an unanswered write may.
  EXPECT_EQ(pod_->Status("/healthz"), 200);
  long readable = 0, unreadable = 0, in_doubt = 0;
  std::size_t panic_lines = CountLines(pod_log(), "MDB_PANIC");
  {
    auto client = pod_->Client(10);
    for (auto& ledger : writers->ledgers()) {
      for (const auto& entry : ledger.keys()) {
        auto res = client->Get("/get/" + entry.first);
        ASSERT_TRUE(res) << entry.first;
        if (res->status == 503) {
          ++in_doubt;
          EXPECT_GT(entry.second.size(), 1u)
              << "GET " << entry.first << " answered 503 but its last write was answered";
          continue;
        }
        if (res->status >= 500) {
          ++unreadable;
          EXPECT_EQ(res->status, 500) << res->body;
          const std::size_t now = CountLines(pod_log(), "MDB_PANIC");
          EXPECT_GT(now, panic_lines) << "GET " << entry.first << " answered " << res->status
                                      << " without an LMDB panic: " << res->body;
          panic_lines = now;
          continue;
        }
        ASSERT_TRUE(res->status == 200 || res->status == 404) << res->status;
        ASSERT_TRUE(ledger.Settle(entry.first, res->status == 200 ? KeyLedger::State(res->body)
                                                                  : std::nullopt))
            << entry.first << " reads a state it never had";
        ++readable;
      }
    }
  }
  std::printf("read-only: while read-only %ld keys read back, %ld answered 500%s, %ld 503 (in doubt)\n",
              readable, unreadable, panic_lines > 0 ? " (LMDB panicked)" : "", in_doubt);
  if (in_doubt > 0) {
    EXPECT_EQ(CountLines(pod_log(), "whether it reached the disk is unknown"),
              static_cast<std::size_t>(in_doubt));
  }
  ReportRss("read-only: while read-only", pod_->pid());

  // The fix: stop, unmount, fsck, mount, start.
  pod_->Terminate();
  ASSERT_EQ(umount2(pod_datadir_.c_str(), 0), 0) << std::strerror(errno);
  mounted_ = false;
  EXPECT_LE(Shell("e2fsck -fy " + image), 1) << "fsck could not repair the volume";
  ASSERT_EQ(Shell(mount_cmd), 0);
  mounted_ = true;
  pod_->Start();
  ReportRss("read-only: after fsck and restart", pod_->pid());
  ExpectLedgersHold(*pod_, writers->ledgers(), "read-only: after fsck and restart");
  const long acked = writers->acked();
  writers->Resume();
  EXPECT_TRUE(WaitUntil([&] { return writers->acked() > acked + 50; }, seconds(20)))
      << "writes did not succeed after the volume was repaired";
  writers.reset();
}

}  // namespace
}  // namespace mehdb::stress

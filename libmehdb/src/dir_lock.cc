// SPDX-License-Identifier: MIT
#include "dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "lmdb_env.h"

namespace mehdb::internal {

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Status DirLock::Acquire(const std::string& dir) {
  const std::string path = dir + "/" + kLockFileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return LmdbStatus(errno, "opening the lock file " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;
    if (err == EWOULDBLOCK) {
      // The holder writes its pid right after locking; a holder caught in
      // between leaves the file empty, hence "unknown".
      char buf[32] = {};
      const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) holder += buf[i];
    }
    ::close(fd);
    if (err != EWOULDBLOCK) return LmdbStatus(err, "locking " + path);
    return Status(Code::kUnavailable,
                  "the store in " + dir + " is in use by process " +
                      (holder.empty() ? std::string("(pid unknown)") : holder) +
                      " (it holds " + path + ")",
                  EWOULDBLOCK);
  }
  // Only for the message a refused opener prints: a failure to record the
  // pid does not weaken the lock.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  fd_ = fd;
  return Status::Ok();
}

}  // namespace mehdb::internal

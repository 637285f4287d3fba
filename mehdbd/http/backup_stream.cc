// SPDX-License-Identifier: MIT
//
// Implementation of backup_stream.h.
#include "http/backup_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/log.h"

namespace mehdbd::http {

BackupStream::~BackupStream() { Close(); }

bool BackupStream::Start() {
  started_ = true;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    LogError(std::string("backup: cannot create a pipe: ") +
             std::strerror(errno));
    return false;
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  // A bigger pipe means fewer wake-ups per MiB copied; failure is harmless.
  (void)::fcntl(write_fd_, F_SETPIPE_SZ, 1 << 20);
  copier_ = std::thread([this, fd = write_fd_] {
    result_ = store_->BackupToFd(fd);
    ::close(fd);  // the reader sees end-of-file
  });
  write_fd_ = -1;
  return true;
}

ssize_t BackupStream::Read(char* buf, std::size_t size) {
  if (!started_ && !Start()) return -1;
  if (read_fd_ < 0) return -1;
  while (true) {
    const ssize_t n = ::read(read_fd_, buf, size);
    if (n > 0) return n;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      LogError(std::string("backup: reading the copy: ") +
               std::strerror(errno));
      return -1;
    }
    // End of file: the copy is complete only if BackupToFd said so.
    if (copier_.joinable()) copier_.join();
    if (!result_.ok()) {
      LogError("backup: " + result_.ToString());
      return -1;
    }
    return 0;
  }
}

void BackupStream::Close() {
  if (read_fd_ >= 0) {
    ::close(read_fd_);  // a copy still writing now fails with EPIPE
    read_fd_ = -1;
  }
  if (copier_.joinable()) copier_.join();
  if (write_fd_ >= 0) ::close(write_fd_);
  write_fd_ = -1;
}

}  // namespace mehdbd::http

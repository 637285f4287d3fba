// SPDX-License-Identifier: MIT
//
// Implementation of output_file.h.
#include "cli/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace mehdb_cli {

std::unique_ptr<OutputFile> OutputFile::Open(const std::string& path,
                                             mode_t mode, std::string& error) {
  if (path == "-")
    return std::unique_ptr<OutputFile>(new OutputFile(path, "", STDOUT_FILENO));
  if (path.empty() || path.back() == '/') {
    error = "'" + path + "' names no file";
    return nullptr;
  }
  // An existing target keeps its permissions; a directory is refused now
  // rather than at the rename.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      error = "cannot write " + path + ": it is a directory";
      return nullptr;
    }
    mode = st.st_mode & 07777;
  }
  std::string temp = path + ".mehdb-XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  // mkostemp makes it 0600; give it what the target will have.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, mode & ~mask);
  return std::unique_ptr<OutputFile>(
      new OutputFile(path, std::string(name.data()), fd));
}

OutputFile::~OutputFile() {
  if (IsStdout()) return;
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

bool OutputFile::Write(const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd_, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (write_errno_ == 0) write_errno_ = w < 0 ? errno : EIO;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool OutputFile::Commit(std::string& error) {
  const std::string where = IsStdout() ? "stdout" : path_;
  if (write_errno_ != 0) {
    error = "cannot write " + where + ": " + std::strerror(write_errno_);
    return false;
  }
  if (IsStdout()) return true;
  if (::fsync(fd_) != 0) {
    error = "cannot sync " + temp_ + ": " + std::strerror(errno);
    return false;
  }
  ::close(fd_);
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    error = "cannot rename " + temp_ + " to " + path_ + ": " +
            std::strerror(errno);
    return false;
  }
  committed_ = true;
  return true;
}

}  // namespace mehdb_cli

// SPDX-License-Identifier: MIT
//
// An LD_PRELOAD library that makes the files under one directory behave as
// on an ext4 volume the kernel has just turned read-only after an error
// (errors=remount-ro), once a trigger file exists:
//   * fsync and fdatasync fail with EIO (the journal is aborted);
//   * ftruncate, posix_fallocate and any open that could write fail with
//     EROFS;
//   * writes through descriptors already open still land in the page cache
//     (ext4 takes an overwrite of allocated blocks without the journal), so
//     the bytes may reach the disk although their sync failed.
// The last point is what makes a failed log append "in doubt": see
// failing_volume_test.cc.
//
//   MEHDB_FAIL_DIR      only files under this directory are affected
//   MEHDB_FAIL_TRIGGER  the volume has failed while this file exists
//
// Built without _FILE_OFFSET_BITS, like io_trace_shim.cc: with it glibc's
// headers rename ftruncate and posix_fallocate to their *64 names, and this
// library defines both names itself.
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Config {
  std::string dir;  // with a trailing '/'
  std::string trigger;
};

const Config& Conf() {
  static const Config conf = [] {
    Config c;
    const char* dir = std::getenv("MEHDB_FAIL_DIR");
    const char* trigger = std::getenv("MEHDB_FAIL_TRIGGER");
    if (dir != nullptr && trigger != nullptr) {
      c.dir = dir;
      if (!c.dir.empty() && c.dir.back() != '/') c.dir += '/';
      c.trigger = trigger;
    }
    return c;
  }();
  return conf;
}

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

bool Failed() {
  const Config& c = Conf();
  return !c.trigger.empty() &&
         syscall(SYS_faccessat, AT_FDCWD, c.trigger.c_str(), F_OK, 0) == 0;
}

bool UnderDir(const std::string& path) {
  const Config& c = Conf();
  return !c.dir.empty() && (path.compare(0, c.dir.size(), c.dir) == 0 ||
                            path + "/" == c.dir);
}

bool FdUnderDir(int fd) {
  char link[64], target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, target, sizeof target - 1);
  return n > 0 && UnderDir(std::string(target, static_cast<std::size_t>(n)));
}

// True (errno set) when a call on fd must fail with `err`.
bool Refuse(int fd, int err) {
  if (Conf().dir.empty() || !Failed() || !FdUnderDir(fd)) return false;
  errno = err;
  return true;
}

int OpenAt(int dirfd, const char* path, int flags, mode_t mode) {
  static const auto real = Real<int (*)(int, const char*, int, ...)>("openat");
  const bool writes = (flags & (O_CREAT | O_TRUNC | O_WRONLY | O_RDWR)) != 0;
  if (writes && path != nullptr && path[0] == '/' && UnderDir(path) && Failed()) {
    errno = EROFS;
    return -1;
  }
  return real(dirfd, path, flags, mode);
}

mode_t ModeArg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) != 0 ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

}  // namespace

extern "C" {

int fsync(int fd) {
  static const auto real = Real<int (*)(int)>("fsync");
  return Refuse(fd, EIO) ? -1 : real(fd);
}

int fdatasync(int fd) {
  static const auto real = Real<int (*)(int)>("fdatasync");
  return Refuse(fd, EIO) ? -1 : real(fd);
}

int ftruncate(int fd, off_t len) {
  static const auto real = Real<int (*)(int, off_t)>("ftruncate");
  return Refuse(fd, EROFS) ? -1 : real(fd, len);
}

int ftruncate64(int fd, off_t len) { return ftruncate(fd, len); }

int posix_fallocate(int fd, off_t off, off_t len) {
  static const auto real = Real<int (*)(int, off_t, off_t)>("posix_fallocate");
  return Refuse(fd, EROFS) ? EROFS : real(fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len) { return posix_fallocate(fd, off, len); }

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenAt(AT_FDCWD, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenAt(AT_FDCWD, path, flags, mode);
}

}  // extern "C"

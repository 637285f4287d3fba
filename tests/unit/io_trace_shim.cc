// SPDX-License-Identifier: MIT
//
// An LD_PRELOAD library for the crash-state test: it records, in completion
// order, every write, sync, truncate and rename a program makes to files
// under one directory, with the bytes written, so the test can rebuild the
// files as a power cut could have left them (crash_state_test.cc).
//
//   MEHDB_IO_TRACE      the trace file to append records to
//   MEHDB_IO_TRACE_DIR  only files under this directory are recorded
//   MEHDB_IO_TRACE_ACK_FD  writes to this fd are recorded as acknowledgements
//                          (the program's "this write returned" lines), so
//                          they fall into the same order as the file writes
//
// Record: u8 kind | u32 path length | u64 offset | u64 length | path | data.
//   'W' write of `length` bytes at `offset` (data follows)
//   'D' the same through an O_DSYNC/O_SYNC descriptor: durable on return
//   'S' fsync/fdatasync of the file
//   'T' ftruncate to `offset`
//   'R' rename: path is the old name, data the new one
//   'C' open with O_CREAT (and 'offset' 1 with O_TRUNC): path is the file
//   'U' unlink of path
//   'F' posix_fallocate of `length` bytes at `offset`
//   'M' msync (of some mapping: the test refuses traces that have one)
//   'A' acknowledgement line (data)
//
// A traced call and its record happen under one mutex, so the record order
// is the order the calls completed in. Records go out through syscall(2),
// which this library does not intercept.
//
// Built without _FILE_OFFSET_BITS (meson sets it project-wide): with it,
// glibc's headers rename pwrite, pwritev and ftruncate to their *64 names,
// and this library defines both names itself (the same calls on 64-bit).
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

struct Config {
  int trace_fd = -1;
  int ack_fd = -1;
  std::string dir;  // with a trailing '/'
};

const Config& Conf() {
  static const Config conf = [] {
    Config c;
    const char* trace = std::getenv("MEHDB_IO_TRACE");
    const char* dir = std::getenv("MEHDB_IO_TRACE_DIR");
    const char* ack = std::getenv("MEHDB_IO_TRACE_ACK_FD");
    if (trace != nullptr && dir != nullptr) {
      c.trace_fd = static_cast<int>(
          syscall(SYS_openat, AT_FDCWD, trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
      c.dir = dir;
      if (!c.dir.empty() && c.dir.back() != '/') c.dir += '/';
    }
    if (ack != nullptr) c.ack_fd = std::atoi(ack);
    return c;
  }();
  return conf;
}

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

// The path of fd if it is a file under the traced directory, else empty.
std::string TracedPath(int fd) {
  const Config& c = Conf();
  if (c.trace_fd < 0 || fd < 0) return {};
  char link[64], target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return {};
  std::string path(target, static_cast<std::size_t>(n));
  return path.compare(0, c.dir.size(), c.dir) == 0 ? path : std::string();
}

bool UnderDir(const char* path) {
  const Config& c = Conf();
  return c.trace_fd >= 0 && path != nullptr && std::strncmp(path, c.dir.data(), c.dir.size()) == 0;
}

void WriteFull(const char* p, std::size_t n) {
  while (n > 0) {
    const long w = syscall(SYS_write, Conf().trace_fd, p, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      std::abort();  // a trace with a hole would make the test lie
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void Emit(char kind, const std::string& path, std::uint64_t offset, const char* data,
          std::uint64_t length) {
  std::string rec(1, kind);
  const auto put = [&rec](const void* v, std::size_t n) {
    rec.append(static_cast<const char*>(v), n);
  };
  const std::uint32_t path_len = static_cast<std::uint32_t>(path.size());
  put(&path_len, 4);
  put(&offset, 8);
  put(&length, 8);
  rec += path;
  if (data != nullptr) rec.append(data, length);
  WriteFull(rec.data(), rec.size());
}

bool DurableFd(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & (O_DSYNC | O_SYNC)) != 0;
}

std::string Gather(const struct iovec* iov, int n, std::size_t bytes) {
  std::string out;
  for (int i = 0; i < n && out.size() < bytes; ++i)
    out.append(static_cast<const char*>(iov[i].iov_base),
               std::min(iov[i].iov_len, bytes - out.size()));
  return out;
}

struct Lock {
  Lock() { pthread_mutex_lock(&g_mu); }
  ~Lock() { pthread_mutex_unlock(&g_mu); }
};

// Records a completed write of `data` at `offset` on fd (if traced).
void RecordWrite(int fd, const std::string& path, std::uint64_t offset, const char* data,
                 std::size_t n) {
  if (fd == Conf().ack_fd && Conf().trace_fd >= 0) {
    Emit('A', {}, 0, data, n);
    return;
  }
  if (path.empty()) return;
  Emit(DurableFd(fd) ? 'D' : 'W', path, offset, data, n);
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  static const auto real = Real<ssize_t (*)(int, const void*, size_t)>("write");
  const std::string path = TracedPath(fd);
  if (path.empty() && fd != Conf().ack_fd) return real(fd, buf, n);
  Lock lock;
  const off_t at = path.empty() ? 0 : lseek(fd, 0, SEEK_CUR);
  const ssize_t r = real(fd, buf, n);
  if (r > 0) RecordWrite(fd, path, static_cast<std::uint64_t>(at), static_cast<const char*>(buf),
                         static_cast<std::size_t>(r));
  return r;
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static const auto real = Real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  const std::string path = TracedPath(fd);
  if (path.empty()) return real(fd, buf, n, off);
  Lock lock;
  const ssize_t r = real(fd, buf, n, off);
  if (r > 0) RecordWrite(fd, path, static_cast<std::uint64_t>(off),
                         static_cast<const char*>(buf), static_cast<std::size_t>(r));
  return r;
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  static const auto real = Real<ssize_t (*)(int, const struct iovec*, int)>("writev");
  const std::string path = TracedPath(fd);
  if (path.empty()) return real(fd, iov, cnt);
  Lock lock;
  const off_t at = lseek(fd, 0, SEEK_CUR);
  const ssize_t r = real(fd, iov, cnt);
  if (r > 0) {
    const std::string data = Gather(iov, cnt, static_cast<std::size_t>(r));
    RecordWrite(fd, path, static_cast<std::uint64_t>(at), data.data(), data.size());
  }
  return r;
}

ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  static const auto real = Real<ssize_t (*)(int, const struct iovec*, int, off_t)>("pwritev");
  const std::string path = TracedPath(fd);
  if (path.empty()) return real(fd, iov, cnt, off);
  Lock lock;
  const ssize_t r = real(fd, iov, cnt, off);
  if (r > 0) {
    const std::string data = Gather(iov, cnt, static_cast<std::size_t>(r));
    RecordWrite(fd, path, static_cast<std::uint64_t>(off), data.data(), data.size());
  }
  return r;
}

ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off_t off) {
  return pwritev(fd, iov, cnt, off);
}

static int TracedSync(const char* name, int fd) {
  using Fn = int (*)(int);
  static const Fn real_fsync = Real<Fn>("fsync");
  static const Fn real_fdatasync = Real<Fn>("fdatasync");
  const Fn real = std::strcmp(name, "fsync") == 0 ? real_fsync : real_fdatasync;
  const std::string path = TracedPath(fd);
  if (path.empty()) return real(fd);
  Lock lock;
  const int r = real(fd);
  if (r == 0) Emit('S', path, 0, nullptr, 0);
  return r;
}

int fsync(int fd) { return TracedSync("fsync", fd); }
int fdatasync(int fd) { return TracedSync("fdatasync", fd); }

int msync(void* addr, size_t len, int flags) {
  static const auto real = Real<int (*)(void*, size_t, int)>("msync");
  if (Conf().trace_fd < 0) return real(addr, len, flags);
  Lock lock;
  const int r = real(addr, len, flags);
  Emit('M', {}, reinterpret_cast<std::uintptr_t>(addr), nullptr, 0);
  return r;
}

int ftruncate(int fd, off_t len) {
  static const auto real = Real<int (*)(int, off_t)>("ftruncate");
  const std::string path = TracedPath(fd);
  if (path.empty()) return real(fd, len);
  Lock lock;
  const int r = real(fd, len);
  if (r == 0) Emit('T', path, static_cast<std::uint64_t>(len), nullptr, 0);
  return r;
}

int ftruncate64(int fd, off_t len) { return ftruncate(fd, len); }

// Creation, removal and preallocation: the write-ahead log's segment files
// are created, preallocated and unlinked as the store runs.
static int TracedOpen(int dirfd, const char* path, int flags, mode_t mode) {
  static const auto real = Real<int (*)(int, const char*, int, ...)>("openat");
  if ((flags & O_CREAT) == 0 || !UnderDir(path)) return real(dirfd, path, flags, mode);
  Lock lock;
  const int r = real(dirfd, path, flags, mode);
  if (r >= 0) Emit('C', path, (flags & O_TRUNC) != 0 ? 1 : 0, nullptr, 0);
  return r;
}

static mode_t ModeArg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) != 0 ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return TracedOpen(AT_FDCWD, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return TracedOpen(AT_FDCWD, path, flags, mode);
}

int unlink(const char* path) {
  static const auto real = Real<int (*)(const char*)>("unlink");
  if (!UnderDir(path)) return real(path);
  Lock lock;
  const int r = real(path);
  if (r == 0) Emit('U', path, 0, nullptr, 0);
  return r;
}

int posix_fallocate(int fd, off_t off, off_t len) {
  static const auto real = Real<int (*)(int, off_t, off_t)>("posix_fallocate");
  const std::string path = TracedPath(fd);
  if (path.empty()) return real(fd, off, len);
  Lock lock;
  const int r = real(fd, off, len);
  if (r == 0)
    Emit('F', path, static_cast<std::uint64_t>(off), nullptr, static_cast<std::uint64_t>(len));
  return r;
}

int posix_fallocate64(int fd, off_t off, off_t len) { return posix_fallocate(fd, off, len); }

int rename(const char* from, const char* to) {
  static const auto real = Real<int (*)(const char*, const char*)>("rename");
  if (!UnderDir(from) && !UnderDir(to)) return real(from, to);
  Lock lock;
  const int r = real(from, to);
  if (r == 0) Emit('R', from, 0, to, std::strlen(to));
  return r;
}

}  // extern "C"

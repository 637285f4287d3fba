// SPDX-License-Identifier: MIT
//
// GET /backup: a consistent copy of the store streamed to the client while
// the daemon keeps serving. Store::BackupToFd writes the copy (LMDB's
// compacting env copy, one read transaction) into a pipe from its own
// thread; the HTTP response reads the other end in chunks. Nothing touches
// the disk and memory use is one pipe buffer, whatever the store's size.
//
// If the client goes away, closing the read end makes the copy fail with
// EPIPE (the daemon ignores SIGPIPE), so the copy thread always ends.
#ifndef MEHDBD_HTTP_BACKUP_STREAM_H_
#define MEHDBD_HTTP_BACKUP_STREAM_H_

#include <mehdb/store.h>
#include <sys/types.h>

#include <thread>

namespace mehdbd::http {

// Not thread-safe: one HTTP response drives it from one thread.
class BackupStream {
 public:
  explicit BackupStream(std::shared_ptr<const mehdb::Store> store)
      : store_(std::move(store)) {}
  ~BackupStream();  // closes the pipe and joins the copy thread
  BackupStream(const BackupStream&) = delete;
  BackupStream& operator=(const BackupStream&) = delete;

  // Reads the next bytes of the copy, starting it on the first call: > 0
  // bytes read, 0 at the end of a complete copy, -1 on failure (the reason
  // is logged). Blocks until bytes are available.
  ssize_t Read(char* buf, std::size_t size);

 private:
  bool Start();
  void Close();

  std::shared_ptr<const mehdb::Store> store_;
  int read_fd_ = -1;
  int write_fd_ = -1;  // owned by the copy thread once it runs
  std::thread copier_;
  mehdb::Status result_;  // written by the copier, read after join
  bool started_ = false;
};

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_BACKUP_STREAM_H_

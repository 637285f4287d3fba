// SPDX-License-Identifier: MIT
//
// Where the `mehdb` client writes a value or a backup: stdout ("-"), or a
// file that is replaced only when everything arrived. The bytes go to a
// temporary file beside the target (same directory, so rename(2) is
// atomic), which Commit() syncs and renames over the target; an
// OutputFile destroyed without Commit() removes it, leaving the target as
// it was -- a missing key or a dropped connection never empties a file.
#ifndef MEHDBD_CLI_OUTPUT_FILE_H_
#define MEHDBD_CLI_OUTPUT_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

namespace mehdb_cli {

class OutputFile {
 public:
  // `path` "-" is stdout. `mode` is the new file's permission bits (before
  // the umask; an existing target's mode is kept). nullptr with `error`
  // set when the temporary file cannot be made.
  static std::unique_ptr<OutputFile> Open(const std::string& path,
                                          mode_t mode, std::string& error);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  bool Write(const char* data, std::size_t n);
  // Syncs and renames into place (stdout: flushes). False with `error`.
  bool Commit(std::string& error);
  bool IsStdout() const { return fd_ == 1; }
  const std::string& path() const { return path_; }

 private:
  OutputFile(std::string path, std::string temp, int fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}

  std::string path_;
  std::string temp_;  // empty for stdout
  int fd_;
  int write_errno_ = 0;  // the first failed write's errno
  bool committed_ = false;
};

}  // namespace mehdb_cli

#endif  // MEHDBD_CLI_OUTPUT_FILE_H_

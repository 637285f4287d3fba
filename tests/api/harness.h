// SPDX-License-Identifier: MIT
//
// Test harness for the API suite: temporary directories, an in-process
// mehdbd HTTP server on an ephemeral 127.0.0.1 port over a real store, raw
// socket exchanges (for what httplib::Client will not send: no
// Content-Length, Expect: 100-continue, a stalled body), and running the
// built binaries as child processes.
#ifndef MEHDB_TESTS_API_HARNESS_H_
#define MEHDB_TESTS_API_HARNESS_H_

#include <httplib.h>
#include <gtest/gtest.h>
#include <mehdb/store.h>

#include "store/store_handle.h"
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "config/identity.h"

namespace mehdb_test {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

mehdbd::Identity LeaderIdentity();
mehdbd::Identity FollowerIdentity(const std::string& leader_url);

// A server running on its own thread, stopped and joined on destruction.
class TestServer {
 public:
  // `auth` (may be null) must outlive the server.
  TestServer(mehdbd::Identity identity, mehdbd::http::ServerOptions options,
             mehdb::Options store_options = QuickStore(),
             std::string datadir = "",
             mehdbd::auth::Authenticator* auth = nullptr);
  ~TestServer();

  int port() const { return port_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  mehdb::Store& store() { return *stores_->Current(); }
  mehdbd::http::Server& server() { return *server_; }
  // A client with url encoding off, so tests send paths byte for byte.
  std::unique_ptr<httplib::Client> Client() const;
  // Graceful stop; Run() has returned when this returns.
  void Stop();

  // Store options for tests: small map, durable writes as in production.
  static mehdb::Options QuickStore();

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<mehdbd::StoreHandle> stores_;
  std::unique_ptr<mehdbd::http::Server> server_;
  std::thread thread_;
  int port_ = -1;
};

// Sends `request` bytes to 127.0.0.1:port and reads until the peer closes
// or `quiet` passes with no new bytes. Answers everything read.
std::string RawExchange(
    int port, const std::string& request,
    std::chrono::milliseconds quiet = std::chrono::milliseconds(1500));

// A connected client socket for step-by-step raw tests (-1 on failure).
int ConnectLoopback(int port);
bool SendAll(int fd, const std::string& bytes);
// True while the server has neither answered nor closed `fd`.
bool StillWaiting(int fd);
// Reads until `needle` appears, the peer closes, or `limit` passes.
std::string ReadUntil(
    int fd, const std::string& needle,
    std::chrono::milliseconds limit = std::chrono::seconds(10));
// Reads until the peer closes the connection or `limit` passes: the bytes
// read, and whether the peer closed (false: still open at `limit`).
struct ReadToClose {
  std::string bytes;
  bool closed = false;
};
ReadToClose ReadUntilClosed(int fd, std::chrono::milliseconds limit);

// A child process: argv[0] is the program path.
struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  int signal = 0;
  std::string out;
  std::string err;
};
struct ProcessSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to a minimal environment
  std::string stdin_data;
  std::string cwd;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};
ProcessResult RunProcess(const ProcessSpec& spec);

// Starts a process without waiting (stdout/stderr to files in `log_dir`).
// A leader server over a fresh store, and a client for it.
class LeaderTest : public ::testing::Test {
 protected:
  explicit LeaderTest(mehdbd::http::ServerOptions options = {})
      : server_(LeaderIdentity(), options), cli_(server_.Client()) {}

  int PutStatus(const std::string& key, const std::string& value,
                const httplib::Headers& headers = {}) {
    auto res = cli_->Put(("/set/" + key).c_str(), headers, value, "text/plain");
    return res ? res->status : -1;
  }
  std::string Seq(const httplib::Result& res,
                  const char* header = "X-Mehdb-Seq") {
    return res ? res->get_header_value(header) : "";
  }

  TestServer server_;
  std::unique_ptr<httplib::Client> cli_;
};

class Child {
 public:
  Child(const ProcessSpec& spec, const std::string& log_dir);
  ~Child();  // SIGKILLs and reaps if still running
  pid_t pid() const { return pid_; }
  // Waits up to `timeout` for exit; the exit code, or nullopt on timeout
  // (or -signal when killed by a signal).
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  void Signal(int sig);
  std::string Stderr() const;
  std::string Stdout() const;

 private:
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
  bool reaped_ = false;
};

// A TCP port that was free a moment ago on 127.0.0.1.
int FreePort();
// Polls until a GET of `path` answers 200 or `limit` passes.
bool WaitForHttp(int port, const std::string& path,
                 std::chrono::milliseconds limit = std::chrono::seconds(20));

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);
// From meson's test env; fails the test if unset.
std::string BinaryPath(const char* env_name);

}  // namespace mehdb_test

#endif  // MEHDB_TESTS_API_HARNESS_H_

// SPDX-License-Identifier: MIT
//
// Child processes for the process and CLI tests, started with posix_spawn
// (not fork: the test process runs server threads, and forking a threaded
// process is unsafe, notably under ThreadSanitizer). Output goes to files so
// no pipe can fill up and stall a child.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "harness.h"

extern char** environ;

namespace mehdb_test {
namespace {

// The test's environment without MEHDB_* (the suite must not depend on the
// caller's settings), plus `extra`. Sanitizer options pass through.
std::vector<std::string> ChildEnvironment(
    const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "MEHDB_", 6) == 0) continue;
    env.emplace_back(*e);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

pid_t Spawn(const ProcessSpec& spec, const std::string& in_path,
            const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!spec.cwd.empty()) {
    // posix_spawn_file_actions_addchdir_np: glibc >= 2.29.
    posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  }
  std::vector<std::string> env = ChildEnvironment(spec.env);
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  // The child starts with default signal dispositions and an empty mask,
  // whatever the test process has set.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data()) !=
      0) {
    pid = -1;
  }
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::optional<int> WaitPid(pid_t pid, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return -WTERMSIG(status);
      return -1;
    }
    if (r < 0 || std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

ProcessResult RunProcess(const ProcessSpec& spec) {
  TempDir io;
  const std::string in = io.Sub("stdin"), out = io.Sub("stdout"),
                    err = io.Sub("stderr");
  WriteFile(in, spec.stdin_data);
  ProcessResult result;
  const pid_t pid = Spawn(spec, in, out, err);
  if (pid < 0) {
    result.err = "cannot start " + spec.argv.at(0);
    return result;
  }
  std::optional<int> code = WaitPid(pid, spec.timeout);
  if (!code) {
    ::kill(pid, SIGKILL);
    code = WaitPid(pid, std::chrono::seconds(10));
    result.err = "<timed out>\n";
  }
  if (code && *code >= 0) result.exit_code = *code;
  if (code && *code < 0) result.signal = -*code;
  result.out = ReadFile(out);
  result.err += ReadFile(err);
  return result;
}

Child::Child(const ProcessSpec& spec, const std::string& log_dir)
    : out_path_(log_dir + "/child.out"), err_path_(log_dir + "/child.err") {
  WriteFile(log_dir + "/child.in", spec.stdin_data);
  pid_ = Spawn(spec, log_dir + "/child.in", out_path_, err_path_);
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    WaitPid(pid_, std::chrono::seconds(10));
  }
}

std::optional<int> Child::Wait(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return -1;
  auto code = WaitPid(pid_, timeout);
  if (code) reaped_ = true;
  return code;
}

void Child::Signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

std::string Child::Stderr() const { return ReadFile(err_path_); }
std::string Child::Stdout() const { return ReadFile(out_path_); }

}  // namespace mehdb_test

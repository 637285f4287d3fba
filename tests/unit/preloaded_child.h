// SPDX-License-Identifier: MIT
//
// Shared by the tests that run a helper program under an LD_PRELOAD library
// (crash_state_test: io_trace_shim; failing_volume_test:
// failing_volume_shim): the child's environment, its output files, and the
// sanitizer runtime's link-order check that the preloaded library would
// trip.
#ifndef MEHDB_TESTS_UNIT_PRELOADED_CHILD_H_
#define MEHDB_TESTS_UNIT_PRELOADED_CHILD_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace mehdb::testing {

// $name, or `fallback` when it is unset.
inline std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

// Runs `argv` with `library` preloaded and `env` set, its stdout and stderr
// written to `out` and `err`; answers its wait status.
inline int RunPreloaded(const std::string& library,
                        const std::vector<std::pair<std::string, std::string>>& env,
                        const std::vector<std::string>& argv, const std::string& out,
                        const std::string& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (std::freopen(out.c_str(), "w", stdout) == nullptr) _exit(126);
    if (std::freopen(err.c_str(), "w", stderr) == nullptr) _exit(126);
    setenv("LD_PRELOAD", library.c_str(), 1);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    // Sanitizer builds: the library comes before the sanitizer runtime.
    const std::string asan = EnvOr("ASAN_OPTIONS", "");
    setenv("ASAN_OPTIONS", (asan + (asan.empty() ? "" : ":") + "verify_asan_link_order=0").c_str(),
           1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace mehdb::testing

#endif  // MEHDB_TESTS_UNIT_PRELOADED_CHILD_H_

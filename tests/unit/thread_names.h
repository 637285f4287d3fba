// SPDX-License-Identifier: MIT
//
// Shared by the tests that check thread names (unit: the store's threads;
// api: the daemon's): how many threads of a process carry each name, read
// from /proc/<pid>/task/*/comm.
#ifndef MEHDB_TESTS_UNIT_THREAD_NAMES_H_
#define MEHDB_TESTS_UNIT_THREAD_NAMES_H_

#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace mehdb::testing {

inline std::map<std::string, int> ThreadNames(pid_t pid = ::getpid()) {
  std::map<std::string, int> names;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) ++names[name];
  }
  return names;
}

}  // namespace mehdb::testing

#endif  // MEHDB_TESTS_UNIT_THREAD_NAMES_H_

// SPDX-License-Identifier: MIT
//
// One process per store: a second Store::Open of a live directory, from this
// process or another, is refused with kUnavailable naming the holder's pid,
// and the holder keeps writing. LMDB's read-only tools still work beside it.
#include <gtest/gtest.h>
#include <mehdb/store.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

const char* WriterPath() {
  const char* p = std::getenv("MEHDB_CRASH_WRITER");
  return p != nullptr ? p : "./crash_writer";
}

// Runs argv to completion with stderr (and stdout) in `log`; answers the
// exit status as waitpid gives it.
int RunToExit(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::FILE* f = std::freopen(log.c_str(), "w", stderr);
    if (f == nullptr) _exit(126);
    dup2(fileno(stderr), 1);
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

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Lock, SecondOpenerInTheSameProcessIsRefused) {
  TempDir dir;
  auto first = OpenOrDie(dir.path());
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->Put("a", "1").ok());

  auto second = Store::Open(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  const std::string msg = second.status().message();
  EXPECT_NE(msg.find("in use by process " + std::to_string(getpid())), std::string::npos)
      << msg;
  EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;

  // The refused opener changed nothing: the holder goes on writing.
  ASSERT_TRUE(first->Put("b", "2").ok());
  EXPECT_EQ((*first->Get("a"))->data, "1");
  EXPECT_EQ((*first->Get("b"))->data, "2");

  // Closing the holder releases the store.
  first.reset();
  auto third = OpenOrDie(dir.path());
  ASSERT_TRUE(third);
  EXPECT_EQ((*third->Get("b"))->data, "2");
}

TEST(Lock, SecondProcessIsRefusedAndTheFirstKeepsWriting) {
  TempDir dir;
  const std::string store_dir = dir.Sub("store");
  auto first = OpenOrDie(store_dir);
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->Put("before", "x").ok());

  // crash_writer would write for ever once open; it must not get that far.
  const std::string log = dir.Sub("writer.log");
  const int status = RunToExit({WriterPath(), store_dir, "2"}, log);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = Slurp(log);
  EXPECT_NE(err.find("Unavailable"), std::string::npos) << err;
  EXPECT_NE(err.find("in use by process " + std::to_string(getpid())), std::string::npos)
      << err;

  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(first->Put("after-" + std::to_string(i), "y").ok());
  EXPECT_EQ(*first->Count(), 21u);
  EXPECT_EQ(first->LastSeq(), 21u);
}

TEST(Lock, LmdbReadOnlyToolsStillWork) {
  const std::string tool = "/usr/bin/mdb_stat";
  if (access(tool.c_str(), X_OK) != 0) GTEST_SKIP() << "mdb_stat is not installed";
  TempDir dir;
  const std::string store_dir = dir.Sub("store");
  auto store = OpenOrDie(store_dir);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Put("k", "v").ok());
  testing::WaitUntilApplied(*store);  // mdb_stat reads LMDB alone
  const std::string log = dir.Sub("stat.log");
  const int status = RunToExit({tool, "-s", "kv", store_dir}, log);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << Slurp(log);
  EXPECT_NE(Slurp(log).find("Entries: 1"), std::string::npos) << Slurp(log);
  ASSERT_TRUE(store->Put("k2", "v").ok());
}

}  // namespace
}  // namespace mehdb

// SPDX-License-Identifier: MIT
//
// Crash safety: a child process group-commits durable writes and reports
// each acknowledged key through a pipe; we SIGKILL it at random moments and
// check that every acknowledged write survived and the store opens cleanly.
#include <gtest/gtest.h>
#include <mehdb/store.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <random>
#include <thread>

#include "temp_dir.h"

namespace mehdb {
namespace {

const char* WriterPath() {
  const char* p = std::getenv("MEHDB_CRASH_WRITER");
  return p != nullptr ? p : "./crash_writer";
}

// Starts the writer, lets it run for `run_ms`, kills it, and returns the
// keys it acknowledged. With `after_first_ack` the time starts at its first
// acknowledgement rather than at the fork: a slow start (a sanitizer build,
// a busy machine) would otherwise leave no time for any write.
std::vector<std::string> RunAndKill(const std::string& dir, int threads, int run_ms,
                                    bool after_first_ack) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const std::string t = std::to_string(threads);
    execl(WriterPath(), WriterPath(), dir.c_str(), t.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string acked;
  std::atomic<bool> first_ack{false}, reader_done{false};
  std::thread reader([&] {
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) {
      acked.append(buf, n);
      first_ack.store(true);
    }
    reader_done.store(true);
  });
  if (after_first_ack) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!first_ack.load() && !reader_done.load() && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  reader.join();
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status)) << "writer exited early with " << status;
  std::vector<std::string> keys;
  std::size_t start = 0;
  for (std::size_t nl; (nl = acked.find('\n', start)) != std::string::npos; start = nl + 1)
    keys.push_back(acked.substr(start, nl - start));
  return keys;
}

// 24 kills; in every round every write acknowledged in any round so far is
// read back. Even rounds kill after the first acknowledgement (so each of
// them is a kill among writes in flight and must have acknowledged some);
// odd rounds kill at a random moment counted from the fork, which may land
// while the store is still opening.
TEST(Crash, AcknowledgedWritesSurviveSigkill) {
  testing::TempDir dir;
  std::mt19937 rng(20261127);
  std::vector<std::string> acked;  // over all rounds
  for (int round = 0; round < 24; ++round) {
    const int threads = 1 + rng() % 8;
    const int run_ms = 20 + rng() % 200;
    const bool after_first_ack = round % 2 == 0;
    auto keys = RunAndKill(dir.path(), threads, run_ms, after_first_ack);
    if (after_first_ack) {
      ASSERT_FALSE(keys.empty()) << "round " << round << ": no write acknowledged";
    }
    acked.insert(acked.end(), keys.begin(), keys.end());
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store.ok()) << "round " << round << ": " << store.status().ToString();
    for (const auto& key : acked) {
      auto v = (*store)->Get(key);
      ASSERT_TRUE(v.ok()) << "round " << round << ": " << v.status().ToString();
      ASSERT_TRUE(v->has_value()) << "round " << round << ": lost acknowledged " << key;
      ASSERT_EQ((*v)->data, "value-of-" + key);
    }
    // The log and the data agree after the crash.
    auto st = (*store)->GetStats();
    ASSERT_TRUE(st.ok());
    ASSERT_EQ(st->last_seq, st->first_log_seq + st->log_entries - 1);
  }
  std::printf("crash: 24 SIGKILLs, %zu acknowledged writes, each re-read after every later kill\n",
              acked.size());
}

}  // namespace
}  // namespace mehdb

// SPDX-License-Identifier: MIT
//
// Scenario 3: the leader is killed with SIGKILL 20 times while writer
// threads do durable PUTs, and restarted each time on the same data
// directory. The store must open cleanly every time, and every write the
// daemon acknowledged must be there after each restart. (A write cut off by
// the kill got no answer; it may or may not have committed, and either is
// fine.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "pod.h"
#include "stress.h"

namespace mehdb::stress {
namespace {

using cluster::Pod;
using cluster::Ports;

constexpr int kKills = 20;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(KillLeader, TwentySigkillsUnderWriteLoadLoseNoAcknowledgedWrite) {
  WorkDir dir;
  Pod pod(dir.path(), 0, Ports::ForThisProcess());
  pod.Start();
  ReportRss("kill: before", pod.pid());
  Writers writers(pod, Writers::Options{});
  std::mt19937 rng(42);
  long checked = 0;
  int under_load = 0;  // kills that landed with a write in flight
  for (int round = 1; round <= kKills; ++round) {
    // Let writes flow for a while, then kill in the middle of them.
    const long before = writers.acked();
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 500));
    ASSERT_TRUE(cluster::WaitUntil([&] { return writers.acked() > before + 20; }))
        << "round " << round << ": the writers made no progress";
    if (round == kKills) ReportRss("kill: before the last SIGKILL", pod.pid());
    if (writers.in_flight() > 0) ++under_load;
    pod.Kill();
    ASSERT_NO_THROW(pod.Start()) << "round " << round << ": the store did not reopen";
    ASSERT_EQ(pod.Status("/readyz"), 200) << "round " << round;

    // Every acknowledged write is there (writers paused for a still view).
    writers.Pause();
    checked += ExpectLedgersHold(pod, writers.ledgers(), "kill: round " + std::to_string(round));
    ASSERT_FALSE(HasFailure());
    writers.Resume();
  }
  ReportRss("kill: after the last restart", pod.pid());
  std::size_t cut_off = 0;
  for (const auto& ledger : writers.ledgers()) cut_off += ledger.unanswered();
  std::printf("kill: %d SIGKILLs (%d with writes in flight), %ld acknowledged writes, "
              "%zu unanswered, %ld key checks\n",
              kKills, under_load, writers.acked(), cut_off, checked);
  // The kills landed among writes in flight, not between them (8 writers
  // are nearly always inside a write; half the rounds is the margin).
  EXPECT_GE(under_load, kKills / 2);
  // Answers were 200, or none at all (the daemon was dead): never a 4xx or 5xx.
  for (const auto& [status, count] : writers.statuses())
    EXPECT_TRUE(status == 200 || status == 0) << count << " answers " << status << ": "
                                              << writers.BodyFor(status);
  // The log shows no store trouble on any of the 21 starts.
  const std::string log = ReadFile(dir.path() + "/mehdb-0.log");
  EXPECT_EQ(log.find("DataLoss"), std::string::npos) << log.substr(0, 4000);
  EXPECT_EQ(log.find("cannot open"), std::string::npos) << log.substr(0, 4000);
}

}  // namespace
}  // namespace mehdb::stress

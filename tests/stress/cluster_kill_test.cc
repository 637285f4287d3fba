// SPDX-License-Identifier: MIT
//
// Scenario 6: a leader and two followers under durable write load, each of
// them killed with SIGKILL again and again (the leader in every third
// round) and restarted on its own data directory. A follower killed
// briefly must stream on from its own seq out of the leader's change log
// (the write-ahead log's retained records); one kept down until the leader
// has written past its retention must load a snapshot. At the end, once
// both followers have applied the leader's last seq, all three hold every
// acknowledged write, and the same keys and values.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pod.h"
#include "stress.h"

namespace mehdb::stress {
namespace {

using cluster::JsonNumber;
using cluster::Pod;
using cluster::Ports;
using cluster::WaitUntil;

constexpr int kRounds = 12;
// Small enough that a follower kept down for a few seconds of writes falls
// out of the log, large enough that a quick restart does not.
constexpr long long kRetainEntries = 5000;

long long LastSeq(const Pod& leader) { return JsonNumber(leader.ReplicationJson(), "last_seq"); }
long long AppliedSeq(const Pod& follower) {
  return JsonNumber(follower.ReplicationJson(), "applied_seq");
}

TEST(KillCluster, SigkillsOfLeaderAndFollowersLoseNoAcknowledgedWriteAndConverge) {
  WorkDir dir;
  const Ports ports = Ports::ForThisProcess();
  const std::vector<std::string> args = {
      "--log-retain-entries=" + std::to_string(kRetainEntries), "--log-retain-bytes=64MiB",
      "--wal-segment-size=1MiB",  // segments cut and retired all through the run
      "--snapshot-log-grace=1s", "--poll-wait=1s"};
  std::vector<std::unique_ptr<Pod>> pods;
  for (int i = 0; i < 3; ++i) {
    pods.push_back(std::make_unique<Pod>(dir.path(), i, ports, args));
    pods.back()->Start();
  }
  Pod& leader = *pods[0];
  Writers::Options options;
  options.keys_per_writer = 200;
  Writers writers(leader, options);

  std::mt19937 rng(7);
  int resumed = 0, snapshotted = 0, leader_kills = 0;
  for (int round = 1; round <= kRounds; ++round) {
    const std::string when = "round " + std::to_string(round);
    const long before = writers.acked();
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 400));
    ASSERT_TRUE(WaitUntil([&] { return writers.acked() > before + 20; }))
        << when << ": the writers made no progress";
    if (round % 3 == 0) {
      leader.Kill();
      ++leader_kills;
      ASSERT_NO_THROW(leader.Start()) << when << ": the leader did not reopen";
      continue;
    }
    Pod& follower = *pods[static_cast<std::size_t>(1 + round % 2)];
    // Two rounds (one per follower) keep the follower down until the
    // leader's log has moved on past what it retains after its seq.
    const bool outlive_the_log = round == 1 || round == 8;
    const long long seen = AppliedSeq(follower);
    ASSERT_GE(seen, 0) << when;
    follower.Kill();
    if (outlive_the_log) {
      ASSERT_TRUE(WaitUntil([&] { return LastSeq(leader) > seen + 2 * kRetainEntries; },
                            std::chrono::seconds(60)))
          << when << ": the leader did not get " << 2 * kRetainEntries << " writes ahead";
    }
    ASSERT_NO_THROW(follower.Start()) << when << ": " << follower.name() << " did not reopen";
    // Its first contact with the leader decides how it catches up; the
    // counters start at 0 in each process.
    long long snapshots = 0, resumes = 0;
    ASSERT_TRUE(WaitUntil([&] {
      const std::string json = follower.ReplicationJson();
      snapshots = JsonNumber(json, "snapshots");
      resumes = JsonNumber(json, "partial_resumes");
      return snapshots + resumes > 0;
    })) << when << ": " << follower.name() << " never caught up: " << follower.ReplicationJson();
    if (outlive_the_log) {
      EXPECT_GT(snapshots, 0) << when << ": a follower behind the log did not load a snapshot";
      ++snapshotted;
    } else if (resumes > 0 && snapshots == 0) {
      ++resumed;
    }
  }

  writers.Pause();
  // Both followers apply everything the leader holds.
  long long last = -1;
  ASSERT_TRUE(WaitUntil([&] {
    last = LastSeq(leader);
    return last > 0 && AppliedSeq(*pods[1]) == last && AppliedSeq(*pods[2]) == last;
  }, std::chrono::seconds(60)))
      << "the followers did not converge: leader " << leader.ReplicationJson() << "\n"
      << pods[1]->ReplicationJson() << "\n" << pods[2]->ReplicationJson();
  // The leader first: it settles what each cut-off write did; the
  // followers must then hold exactly the same.
  long checked = 0;
  for (const auto& pod : pods) {
    checked += ExpectLedgersHold(*pod, writers.ledgers(), "cluster kill: " + pod->name());
    ASSERT_FALSE(HasFailure());
  }
  const auto contents = leader.Contents();
  EXPECT_EQ(pods[1]->Contents(), contents);
  EXPECT_EQ(pods[2]->Contents(), contents);
  std::printf("cluster kill: %d rounds (%d leader SIGKILLs), %d follower restarts streamed on "
              "from the log, %d loaded a snapshot; %ld acknowledged writes up to seq %lld, %ld "
              "key checks, %zu keys alike on all three\n",
              kRounds, leader_kills, resumed, snapshotted, writers.acked(), last, checked,
              contents.size());
  // Both ways of catching up were taken (the quick restarts could in
  // principle all have needed snapshots, but not with this retention).
  EXPECT_GT(resumed, 0);
  EXPECT_GT(snapshotted, 0);
  for (const auto& pod : pods) {
    const std::string log = pod->LogText();
    EXPECT_EQ(log.find("DataLoss"), std::string::npos) << pod->name() << ": " << log.substr(0, 4000);
    EXPECT_EQ(log.find("cannot open"), std::string::npos) << pod->name() << ": " << log.substr(0, 4000);
  }
}

}  // namespace
}  // namespace mehdb::stress

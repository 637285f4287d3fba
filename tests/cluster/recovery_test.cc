// SPDX-License-Identifier: MIT
//
// A leader that comes back on an empty volume (its PVC lost or wiped), with
// real processes launched as the original's env vars would (MEHDB_HOST per
// pod, everything else default but the test's addresses): it does not start
// a new history while its followers hold one. It answers 503 meanwhile,
// loads the most advanced follower's snapshot, keeps the history id, the
// followers stream on without a snapshot, and new writes replicate. With no
// follower holding data it starts fresh after --recovery-wait.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "pod.h"
#include "pod_fixture.h"

namespace mehdb::cluster {
namespace {

using std::chrono::seconds;

class Recovery : public PodFixture {};

TEST_F(Recovery, AWipedLeaderLoadsTheMostAdvancedFollowersData) {
  Pod& leader = AddPod();
  leader.Start();
  Pod& ahead = AddPod();
  ahead.Start();
  Pod& behind = AddPod();
  behind.Start();
  std::map<std::string, std::string> acked;
  for (int i = 0; i < 60; ++i) {
    const std::string key = "k" + std::to_string(i), value = "v" + std::to_string(i);
    ASSERT_EQ(leader.Put(key, value), 200);
    acked[key] = value;
  }
  ASSERT_TRUE(WaitUntil([&] { return ahead.Contents() == acked && behind.Contents() == acked; }));
  // mehdb-2 stops; mehdb-1 gets more: it is the most advanced.
  behind.Kill();
  for (int i = 60; i < 80; ++i) {
    const std::string key = "k" + std::to_string(i), value = "v" + std::to_string(i);
    ASSERT_EQ(leader.Put(key, value), 200);
    acked[key] = value;
  }
  ASSERT_TRUE(WaitUntil([&] { return ahead.Contents() == acked; }));
  const std::string history = Replication(leader)["history"];
  const auto seq = Replication(leader)["last_seq"].get<long long>();

  leader.Kill();
  leader.WipeData();
  behind.Start();  // 20 writes behind, and offering them too
  leader.SetExtraArgs({"--leader-recovery=auto"});  // the default, as a bare launch has it
  leader.Start();
  // Deciding takes a moment (followers' polls, then a settle time): until
  // then nothing is written or answered from the empty store.
  auto put = leader.Client()->Put("/set/early", "x", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 503);
  EXPECT_FALSE(put->get_header_value("Retry-After").empty());
  EXPECT_EQ(leader.Status("/readyz"), 503);
  EXPECT_EQ(leader.Status("/get/k1"), 503);
  // Followers keep serving reads meanwhile.
  EXPECT_EQ(ahead.Get("k1"), "v1");

  ASSERT_TRUE(WaitUntil([&] { return leader.Status("/readyz") == 200; }, seconds(30)))
      << leader.LogText();
  EXPECT_EQ(leader.Contents(), acked);
  EXPECT_EQ(Replication(leader)["history"], history);
  EXPECT_EQ(Replication(leader)["last_seq"].get<long long>(), seq);
  EXPECT_EQ(leader.Get("early"), std::nullopt);

  // A new write replicates to both; the most advanced follower streamed on
  // without a snapshot (the other one loads one: the leader has no log of
  // the writes it missed).
  const auto snapshots_before = Replication(ahead)["follower"]["snapshots"].get<long long>();
  ASSERT_EQ(leader.Put("after", "recovery"), 200);
  acked["after"] = "recovery";
  for (Pod* f : {&ahead, &behind})
    EXPECT_TRUE(WaitUntil([&] { return f->Contents() == acked; })) << f->ReplicationJson();
  EXPECT_EQ(Replication(ahead)["follower"]["snapshots"].get<long long>(), snapshots_before);
  EXPECT_EQ(Replication(ahead)["follower"]["history_mismatches"].get<long long>(), 0);
}

TEST_F(Recovery, WithNoFollowerHoldingDataTheLeaderStartsFreshAfterTheWait) {
  Pod& leader = AddPod({"--recovery-wait=1500ms"});
  leader.Start();
  AddPod().Start();  // a new follower: nothing to offer
  EXPECT_EQ(leader.Put("k", "v"), 503);
  ASSERT_TRUE(WaitUntil([&] { return leader.Put("k", "v") == 200; }, seconds(20)))
      << leader.LogText();
  EXPECT_NE(leader.LogText().find("starting a new history"), std::string::npos);
  EXPECT_TRUE(WaitUntil([&] { return pods_[1]->Get("k") == "v"; }));
}

TEST_F(Recovery, FreshStartsANewHistoryAtOnceWhenTheOperatorSaysSo) {
  ASSERT_NO_FATAL_FAILURE(StartLeaderAndFollowerInSync());
  Pod& leader = *pods_[0];
  Pod& follower = *pods_[1];
  leader.Kill();
  leader.WipeData();
  leader.SetExtraArgs({"--leader-recovery=fresh"});
  leader.Start();
  EXPECT_EQ(leader.Put("new", "history"), 200);
  EXPECT_EQ(leader.Get("k"), std::nullopt);
  // The follower refuses the other history, as before this feature.
  EXPECT_TRUE(WaitUntil([&] {
    return Replication(follower)["follower"]["state"] == "history-mismatch";
  }));
}

}  // namespace
}  // namespace mehdb::cluster

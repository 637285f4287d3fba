// SPDX-License-Identifier: MIT
//
// Followers while the leader is away, with real processes: a follower out of
// contact stays ready for reads within --max-staleness, says how stale its
// reads may be (X-Mehdb-Staleness, /metrics), answers writes with 503 and
// Retry-After instead of a 307 to a leader it cannot reach, and turns not
// ready once its data is older than the bound. A restarted follower is
// ready as soon as it has caught up, not after a long-poll.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "pod_fixture.h"

namespace mehdb::cluster {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class Staleness : public PodFixture {
 protected:
  static nlohmann::json Follower(const Pod& pod) { return Replication(pod)["follower"]; }
};

TEST_F(Staleness, AFollowerServesReadsWithinTheBoundWhileTheLeaderIsAway) {
  Pod& leader = AddPod();
  leader.Start();
  Pod& follower = AddPod({"--max-staleness=6s"});
  follower.Start();
  ASSERT_EQ(leader.Put("k", "v"), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Get("k") == "v" && follower.Status("/readyz") == 200; }));
  auto read = follower.Client()->Get("/get/k");
  ASSERT_TRUE(read);
  const std::string in_contact = read->get_header_value("X-Mehdb-Staleness");
  ASSERT_FALSE(in_contact.empty());
  EXPECT_NE(in_contact, "unknown");

  leader.Kill();
  ASSERT_TRUE(WaitUntil([&] { return Follower(follower)["state"] == "leader-unreachable"; }))
      << follower.ReplicationJson();
  // Away, yet ready, and reads say how old they may be.
  EXPECT_EQ(follower.Status("/readyz"), 200) << follower.ReplicationJson();
  EXPECT_EQ(Follower(follower)["leader_away"], true);
  read = follower.Client()->Get("/get/k");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
  EXPECT_EQ(read->body, "v");
  EXPECT_GE(std::stod(read->get_header_value("X-Mehdb-Staleness")), 0.0);
  auto metrics = follower.Client()->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\nmehdb_follower_staleness_seconds "), std::string::npos);
  EXPECT_NE(metrics->body.find("\nmehdb_follower_leader_away 1"), std::string::npos);
  // A write has nowhere to go: 503 and when to come back, not a 307.
  auto write = follower.Client()->Put("/set/k", "w", "text/plain");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->status, 503);
  EXPECT_EQ(write->get_header_value("Retry-After"), "5");
  EXPECT_NE(write->body.find("leader is out of reach"), std::string::npos) << write->body;

  // Past the bound: not ready, and says why.
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 503; }, seconds(30)));
  EXPECT_NE(Follower(follower)["not_ready_reason"].get<std::string>().find("--max-staleness"),
            std::string::npos)
      << follower.ReplicationJson();
  EXPECT_EQ(follower.Get("k"), "v");  // still reads

  // The leader is back: writes are redirected again and the follower is
  // ready and in contact.
  leader.Start();
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }))
      << follower.ReplicationJson();
  EXPECT_EQ(Follower(follower)["leader_away"], false);
  write = follower.Client()->Put("/set/k", "w", "text/plain");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->status, 307);
}

TEST_F(Staleness, ARestartedFollowerIsReadyOnceCaughtUpNotAfterALongPoll) {
  Pod& leader = AddPod();
  leader.Start();
  // The leader holds a long-poll up to 10 s; the first poll of a connection
  // must not wait for it.
  Pod& follower = AddPod({"--poll-wait=10s"});
  follower.Start();
  ASSERT_EQ(leader.Put("k", "v"), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }));
  follower.Kill();
  follower.Start();  // the leader is idle: nothing new to wake a poll
  EXPECT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }, seconds(5)))
      << follower.ReplicationJson();
}

}  // namespace
}  // namespace mehdb::cluster

// SPDX-License-Identifier: MIT
//
// acks=N counts only what happened: real processes on 127.0.0.x, a leader
// (mehdb-0) and a follower. Forged log polls to the leader's peer port (a
// made-up follower name, a seq past the leader's, another history, no
// token) never raise X-Mehdb-Acks; a stopped follower is forgotten after
// --forget-followers-after; and every acks / ack_timeout parameter of a
// write is checked before anything is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "pod_fixture.h"

namespace mehdb::cluster {
namespace {

using std::chrono::seconds;

class Acks : public PodFixture {
 protected:
  Pod& leader() { return *pods_[0]; }

  std::vector<std::string> KnownFollowers() {
    std::vector<std::string> names;
    const auto doc = Replication(leader());  // kept alive for the loop
    for (const auto& f : doc["leader"]["followers"]) names.push_back(f["name"]);
    return names;
  }

  // A log poll on the leader's peer port, as a follower named `name` would
  // send it; answers the status (0 on a transport error).
  int Poll(const std::string& name, const std::string& query, const std::string& token = "") {
    httplib::Client peer(leader().address(), ports_.peer);
    peer.set_read_timeout(seconds(5));
    httplib::Headers headers = {{"X-Mehdb-Follower", name}};
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = peer.Get("/v1/replication/log?" + query, headers);
    return res ? res->status : 0;
  }

  // PUT with acks=1: the X-Mehdb-Acks it answers. Where no ack may come the
  // wait is short (a forged ack would count at once); where a real follower
  // must ack it is long, for slow (sanitizer) builds.
  std::string AcksOfAWrite(const std::string& key, const char* timeout = "300ms") {
    auto res = leader().Client(15)->Put("/set/" + key + "?acks=1&ack_timeout=" + timeout, "v",
                                        "text/plain");
    if (!res) return "no answer";
    EXPECT_EQ(res->status, res->get_header_value("X-Mehdb-Acks") == "1" ? 200 : 202);
    return res->get_header_value("X-Mehdb-Acks");
  }

};

TEST_F(Acks, ForgedOrAheadPollsNeverCount) {
  AddPod().Start();
  Pod& follower = AddPod();
  follower.Start();
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }))
      << follower.ReplicationJson();
  ASSERT_EQ(AcksOfAWrite("real", "10s"), "1");  // the real follower counts
  follower.Kill();

  const auto state = Replication(leader());
  const std::string history = state["history"];
  const unsigned long long last = state["last_seq"];
  const std::string next = std::to_string(last + 1);
  // The forged poll: a follower that never existed, far ahead.
  EXPECT_EQ(Poll("ghost", "from=999999999&history=" + history), 409);
  // One record ahead: the leader lost a write the "follower" claims.
  EXPECT_EQ(Poll("ghost", "from=" + std::to_string(last + 2) + "&history=" + history), 409);
  // Another history, at a seq the leader has.
  EXPECT_EQ(Poll("ghost", "from=" + next + "&history=" + std::string(32, 'a')), 409);
  EXPECT_EQ(Poll("ghost", "from=999999999"), 400);  // no history at all
  EXPECT_EQ(AcksOfAWrite("after-forgery"), "0");
  for (const auto& name : KnownFollowers()) EXPECT_NE(name, "ghost");

  // The real follower's last ack (from before it stopped) covers no newer
  // write either; back, it acknowledges again.
  EXPECT_EQ(AcksOfAWrite("while-stopped"), "0");
  follower.Start();
  ASSERT_TRUE(WaitUntil([&] { return follower.Get("while-stopped") == "v"; }));
  EXPECT_EQ(AcksOfAWrite("back", "10s"), "1");
}

TEST_F(Acks, PollsWithoutTheTokenNeverCount) {
  {
    std::ofstream(workdir_ + "/token") << "acks-token\n";
  }
  Pod& l = AddPod({"--auth-token-file=" + workdir_ + "/token"});
  l.SetClientToken("acks-token");
  l.Start();
  ASSERT_EQ(l.Put("seed", "1"), 200);
  const auto state = Replication(l);
  const std::string query = "from=" + std::to_string(state["last_seq"].get<unsigned long long>() + 1) +
                            "&history=" + state["history"].get<std::string>() + "&wait_ms=0";
  EXPECT_EQ(Poll("ghost", query), 401);
  EXPECT_EQ(Poll("ghost", query, "wrong-token"), 403);
  EXPECT_EQ(AcksOfAWrite("after-forgery"), "0");
  EXPECT_TRUE(KnownFollowers().empty()) << l.ReplicationJson();
  // The same poll with the token is a follower's, and is listed.
  EXPECT_EQ(Poll("mehdb-7", query, "acks-token"), 200);
  EXPECT_EQ(KnownFollowers(), std::vector<std::string>{"mehdb-7"});
}

TEST_F(Acks, AStoppedFollowerIsForgotten) {
  AddPod({"--forget-followers-after=1s"}).Start();
  Pod& follower = AddPod();
  follower.Start();
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }));
  ASSERT_EQ(AcksOfAWrite("k", "10s"), "1");
  const auto doc = Replication(leader());
  ASSERT_EQ(doc["leader"]["followers"].size(), 1u) << doc;
  const auto& f = doc["leader"]["followers"][0];
  EXPECT_EQ(f["name"], follower.name());
  EXPECT_GE(f["acked_seq"].get<unsigned long long>(), doc["last_seq"].get<unsigned long long>());
  // When it was last seen, in UTC ("2026-11-30T18:20:01.123Z").
  EXPECT_EQ(f["last_seen"].get<std::string>().size(), 24u) << f;
  EXPECT_EQ(f["last_seen"].get<std::string>().back(), 'Z') << f;
  EXPECT_EQ(doc["leader"]["forget_followers_after_seconds"], 1.0);
  // A live follower keeps a poll parked, so it stays known past the bound.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(KnownFollowers().size(), 1u) << leader().ReplicationJson();

  follower.Kill();
  // Its parked poll ends within --poll-wait (2 s here), then 1 s.
  EXPECT_TRUE(WaitUntil([&] { return KnownFollowers().empty(); })) << leader().ReplicationJson();
  auto metrics = leader().Client()->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("follower=\"" + follower.name() + "\""), std::string::npos);
}

TEST_F(Acks, EveryWriteParameterIsCheckedBeforeWriting) {
  AddPod().Start();
  ASSERT_EQ(leader().Put("kept", "1"), 200);
  const auto last = Replication(leader())["last_seq"];
  const char* bad[] = {
      "acks=abc", "acks=", "acks=-1", "acks=1.5", "acks=+1", "acks=1x", "acks=257",
      "acks=99999999999999999999", "acks=1&acks=2", "ack_timeout=5s", "acks=1&ack_timeout=zz",
      "acks=1&ack_timeout=-5s", "acks=1&ack_timeout=", "acks=1&ack_timeout=5q",
      "acks=1&ack_timeout=1s&ack_timeout=2s",
  };
  for (const char* query : bad) {
    SCOPED_TRACE(query);
    auto put = leader().Client()->Put(std::string("/set/new?") + query, "v", "text/plain");
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 400);
    EXPECT_NE(put->body.find("nothing was written"), std::string::npos) << put->body;
    auto del = leader().Client()->Delete(std::string("/set/kept?") + query);
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 400);
  }
  EXPECT_EQ(leader().Get("new"), std::nullopt);
  EXPECT_EQ(leader().Get("kept"), "1");
  EXPECT_EQ(Replication(leader())["last_seq"], last) << "a refused write took a seq";

  // Good ones: acks=0 needs no follower; a DELETE waits like a PUT.
  auto zero = leader().Client()->Put("/set/new?acks=0&ack_timeout=1s", "v", "text/plain");
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->status, 200);
  EXPECT_EQ(zero->get_header_value("X-Mehdb-Acks"), "0");
  auto del = leader().Client()->Delete("/set/kept?acks=1&ack_timeout=100ms");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 202);  // no follower in time; the delete stands
  EXPECT_EQ(del->get_header_value("X-Mehdb-Acks"), "0");
  EXPECT_EQ(leader().Get("kept"), std::nullopt);
}

}  // namespace
}  // namespace mehdb::cluster

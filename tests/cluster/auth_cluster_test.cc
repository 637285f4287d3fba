// SPDX-License-Identifier: MIT
//
// Peer sync between real processes when the leader requires a bearer token
// (--auth-token-file): a follower with the same token replicates; one with
// a wrong token is refused at the leader's peer port, applies nothing, stays
// not ready and says why in /replication; fixing its token file lets it
// catch up without a restart.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pod.h"

namespace mehdb::cluster {
namespace {

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

class AuthCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mehdb-auth-cluster-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    workdir_ = tmpl;
    ports_ = Ports::ForThisProcess();
    WriteText(workdir_ + "/token", "cluster-token\n");
    WriteText(workdir_ + "/wrong", "not-the-token\n");
  }
  void TearDown() override {
    pods_.clear();
    if (!HasFailure()) std::filesystem::remove_all(workdir_);
    else std::fprintf(stderr, "pod logs kept in %s\n", workdir_.c_str());
  }

  // A pod run with --auth-token-file=<workdir>/<file>; its test clients send
  // the real token.
  Pod& AddPod(const std::string& file) {
    pods_.push_back(std::make_unique<Pod>(
        workdir_, static_cast<int>(pods_.size()), ports_,
        std::vector<std::string>{"--auth-token-file=" + workdir_ + "/" + file}));
    pods_.back()->SetClientToken("cluster-token");
    return *pods_.back();
  }

  nlohmann::json Follower(const Pod& pod) {
    const std::string text = pod.ReplicationJson();
    if (text.empty()) return nlohmann::json::object();
    return nlohmann::json::parse(text)["follower"];
  }

  std::string workdir_;
  Ports ports_;
  std::vector<std::unique_ptr<Pod>> pods_;
};

TEST_F(AuthCluster, FollowerWithTheTokenReplicates) {
  Pod& leader = AddPod("token");
  leader.Start();
  ASSERT_EQ(leader.Put("before", "1"), 200);  // reaches the follower by snapshot
  Pod& follower = AddPod("token");
  follower.Start();
  ASSERT_EQ(leader.Put("after", "2"), 200);  // ... and this one by the log
  ASSERT_TRUE(WaitUntil([&] {
    return follower.Get("before") == "1" && follower.Get("after") == "2";
  })) << follower.ReplicationJson();
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }))
      << follower.ReplicationJson();
  // The peer port refuses anyone without the token.
  httplib::Client peer(leader.address(), ports_.peer);
  auto res = peer.Get("/v1/replication/log?from=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  auto metrics = leader.Client()->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(
                "mehdb_auth_rejected_total{listener=\"peer\",reason=\"missing\"} 1\n"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find(
                "mehdb_auth_rejected_total{listener=\"peer\",reason=\"wrong\"} 0\n"),
            std::string::npos);
}

TEST_F(AuthCluster, FollowerWithAWrongTokenAppliesNothingAndIsNotReady) {
  Pod& leader = AddPod("token");
  leader.Start();
  ASSERT_EQ(leader.Put("secret", "data"), 200);
  Pod& follower = AddPod("wrong");
  follower.Start();

  ASSERT_TRUE(WaitUntil([&] {
    const auto f = Follower(follower);
    return f.value("state", "") == "unauthorized" && f.value("peer_errors", 0) >= 2;
  })) << follower.ReplicationJson();
  const auto f = Follower(follower);
  EXPECT_NE(f.value("last_error", "").find("403"), std::string::npos) << f.dump();
  EXPECT_FALSE(f.value("ready", true));
  EXPECT_EQ(f.value("applied_seq", 1), 0);
  EXPECT_EQ(follower.Status("/readyz"), 503);
  EXPECT_FALSE(follower.Get("secret").has_value());
  auto keys = follower.Client()->Get("/keys");
  ASSERT_TRUE(keys);
  EXPECT_TRUE(nlohmann::json::parse(keys->body).empty()) << keys->body;
  auto metrics = leader.Client()->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find(
                "mehdb_auth_rejected_total{listener=\"peer\",reason=\"wrong\"} 0\n"),
            std::string::npos)
      << metrics->body;

  // Rotating the follower's token file to the right token fixes it in
  // place (the follower re-reads it and reconnects after each refusal).
  WriteText(workdir_ + "/wrong", "cluster-token\n");
  ASSERT_TRUE(WaitUntil([&] { return follower.Get("secret") == "data"; }))
      << follower.ReplicationJson();
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }))
      << follower.ReplicationJson();
}

}  // namespace
}  // namespace mehdb::cluster

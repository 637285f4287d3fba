// SPDX-License-Identifier: MIT
//
// PodFixture: the gtest fixture cluster tests share: a work directory under
// /tmp that holds the pods' data directories and logs (kept, and named on
// stderr, when the test failed), this process's ports, and the pods, added
// in ordinal order (the first is mehdb-0, the leader).
#ifndef MEHDB_TESTS_CLUSTER_POD_FIXTURE_H_
#define MEHDB_TESTS_CLUSTER_POD_FIXTURE_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pod.h"

namespace mehdb::cluster {

class PodFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mehdb-cluster-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    workdir_ = tmpl;
    ports_ = Ports::ForThisProcess();
  }
  void TearDown() override {
    pods_.clear();
    if (!HasFailure()) std::filesystem::remove_all(workdir_);
    else std::fprintf(stderr, "pod logs kept in %s\n", workdir_.c_str());
  }
  Pod& AddPod(std::vector<std::string> args = {}) {
    pods_.push_back(std::make_unique<Pod>(workdir_, static_cast<int>(pods_.size()), ports_,
                                          std::move(args)));
    return *pods_.back();
  }
  // Starts a leader (mehdb-0) and a follower (mehdb-1), writes k = v on the
  // leader and waits until the follower holds it: both up, in sync.
  void StartLeaderAndFollowerInSync() {
    Pod& leader = AddPod();
    leader.Start();
    Pod& follower = AddPod();
    follower.Start();
    ASSERT_EQ(leader.Put("k", "v"), 200);
    ASSERT_TRUE(WaitUntil([&] { return follower.Get("k") == "v"; })) << follower.ReplicationJson();
  }
  // GET /replication as JSON (an empty object when it does not answer).
  static nlohmann::json Replication(const Pod& pod) {
    const std::string text = pod.ReplicationJson();
    return text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text);
  }

  std::string workdir_;
  Ports ports_{};
  std::vector<std::unique_ptr<Pod>> pods_;
};

}  // namespace mehdb::cluster

#endif  // MEHDB_TESTS_CLUSTER_POD_FIXTURE_H_

// SPDX-License-Identifier: MIT
//
// GET /watch on a follower, with real processes: while several writers put
// to the leader and the watched follower is killed and started again, a
// client that keeps polling the follower from each answer's `next` (and
// retries while the follower is down) sees every write exactly once, in seq
// order. A follower with a small --log-retain-entries answers a trimmed
// `from` with 410 and its oldest retained seq.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "pod_fixture.h"

namespace mehdb::cluster {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class Watch : public PodFixture {};

TEST_F(Watch, AFollowersWatchMissesNothingAcrossItsRestart) {
  Pod& leader = AddPod();
  leader.Start();
  Pod& follower = AddPod();
  follower.Start();
  // In contact before the writes: a follower that first meets a leader
  // holding data starts from a snapshot, and its log from there.
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }));

  // The watcher: long-polls the follower, picking up where the last answer
  // ended, whatever the follower is going through.
  constexpr int kWriters = 3;
  constexpr int kPerWriter = 40;
  constexpr std::size_t kTotal = kWriters * kPerWriter;
  std::mutex mu;
  std::vector<json> events;  // guarded by mu
  std::atomic<bool> stop{false};
  std::atomic<int> failed_polls{0}, gone{0};
  std::thread watcher([&] {
    std::uint64_t next = 1;
    while (!stop.load()) {
      auto cli = follower.Client(5);
      auto res = cli->Get("/watch?prefix=w&wait=1s&from=" + std::to_string(next));
      if (res && res->status == 410) ++gone;  // the test fails: nothing may be trimmed
      if (!res || res->status != 200) {
        ++failed_polls;
        std::this_thread::sleep_for(milliseconds(50));
        continue;
      }
      const json doc = json::parse(res->body);
      next = doc["next"];
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& e : doc["events"]) events.push_back(e);
      if (events.size() >= kTotal) return;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto cli = leader.Client();
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
        auto res = cli->Put(("/set/" + key).c_str(), key, "text/plain");
        EXPECT_TRUE(res && res->status == 200) << key;
        std::this_thread::sleep_for(milliseconds(10));
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(300));
  follower.Kill();
  std::this_thread::sleep_for(milliseconds(300));
  follower.Start();
  for (auto& t : writers) t.join();
  const bool all = WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return events.size() >= kTotal;
      },
      std::chrono::seconds(30));
  stop.store(true);
  watcher.join();
  ASSERT_TRUE(all) << events.size() << " of " << kTotal;
  EXPECT_EQ(gone.load(), 0);
  EXPECT_GT(failed_polls.load(), 0);  // the restart did interrupt the watch
  // Every write once, in seq order, and seqs without a gap (the writers'
  // puts are the only writes).
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const json& e = events[i];
    if (i > 0) {
      EXPECT_EQ(e["seq"], events[i - 1]["seq"].get<std::uint64_t>() + 1) << e.dump();
    }
    EXPECT_EQ(e["op"], "put");
    EXPECT_EQ(e["value"], e["key"]);
    ++seen[e["key"]];
  }
  EXPECT_EQ(events.size(), kTotal);
  EXPECT_EQ(seen.size(), kTotal);
  EXPECT_EQ(events.front()["seq"], 1);
}

TEST_F(Watch, AFromOlderThanAFollowersRetainedLogIs410) {
  Pod& leader = AddPod();
  leader.Start();
  Pod& follower = AddPod({"--log-retain-entries=5"});
  follower.Start();
  // One write first, held by the follower before the rest: a follower
  // that first syncs after all the writes loads them as a snapshot, and
  // its log then holds none of them.
  std::string seq;
  ASSERT_EQ(leader.Put("k0", "v", &seq), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Get("k0") == "v"; }));
  for (int i = 1; i < 25; ++i) ASSERT_EQ(leader.Put("k" + std::to_string(i), "v", &seq), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Get("k24") == "v"; }));
  std::string text, oldest_header;
  std::uint64_t oldest = 0;
  json doc;
  // Asked from the start: 410 and the oldest seq retained. From there on,
  // the follower answers the rest of the log (asked again if its applier
  // trimmed the log between the two requests).
  ASSERT_TRUE(WaitUntil([&] {
    auto gone = follower.Client()->Get("/watch?from=1&wait=0s");
    if (!gone || gone->status != 410) return false;
    text = gone->body;
    oldest_header = gone->get_header_value("X-Mehdb-Oldest-Seq");
    oldest = json::parse(text)["oldest_seq"];
    auto res = follower.Client()->Get(("/watch?wait=0s&from=" + std::to_string(oldest)).c_str());
    if (!res || res->status != 200) return false;
    doc = json::parse(res->body);
    return !doc["events"].empty();
  })) << text;
  EXPECT_EQ(oldest_header, std::to_string(oldest));
  EXPECT_GT(oldest, 1u);
  EXPECT_EQ(doc["events"][0]["seq"], oldest);
  EXPECT_EQ(doc["events"].back()["seq"], std::stoull(seq));
}

}  // namespace
}  // namespace mehdb::cluster

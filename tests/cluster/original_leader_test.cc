// SPDX-License-Identifier: MIT
//
// A rolling upgrade from the tutorial's mehdb 0.6, with real mehdbd pods on
// 127.0.0.x: mehdb-0 is first the original (OriginalStandIn, which serves
// the original's API exactly as ORIGINAL_API.md describes it, from a data
// directory in the original's layout), the followers are ours, started on
// volumes in the original's layout (imported at start). They follow the
// original through GET /keys and /get/{key}, serve reads and are ready while
// doing so, and switch to peer sync (a snapshot) once mehdb-0 is replaced
// by ours, which imports its own volume. Nothing is lost on the way and a
// new write replicates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "original_standin.h"
#include "pod.h"

namespace mehdb::cluster {
namespace {

namespace fs = std::filesystem;
using Contents = std::map<std::string, std::string>;

// Key i in the original's alphabet.
std::string KeyName(int i) {
  std::string s = "key";
  do {
    s += static_cast<char>('a' + i % 26);
    i /= 26;
  } while (i > 0);
  return s;
}

void WriteKey(const std::string& datadir, const std::string& key, const std::string& value) {
  fs::create_directories(datadir + "/" + key);
  std::ofstream(datadir + "/" + key + "/content", std::ios::binary | std::ios::trunc) << value;
}

void WriteLayout(const std::string& datadir, const Contents& contents) {
  for (const auto& [key, value] : contents) WriteKey(datadir, key, value);
}

std::string Field(const Pod& pod, const char* field) {
  const auto doc = nlohmann::json::parse(pod.ReplicationJson(), nullptr, false);
  if (doc.is_discarded() || !doc.contains("follower")) return "";
  return doc["follower"].value(field, "");
}

TEST(OriginalLeader, FollowersFollowAnOriginalLeaderThenSwitchToPeerSync) {
  char tmpl[] = "/tmp/mehdb-original-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string workdir = tmpl;
  Ports ports = Ports::ForThisProcess();
  ports.base_octet += 11;  // apart from the other suites' pods
  Pod leader(workdir, 0, ports), one(workdir, 1, ports), two(workdir, 2, ports);

  // The leader's data, and the followers' copies as the original's
  // followers leave them: mehdb-1 current, mehdb-2 stale (a key missing,
  // an old value, a key the leader deleted, and a leader error body stored
  // as a value, which the original never checked).
  Contents data;
  for (int i = 0; i < 400; ++i)
    data[KeyName(i)] = std::string(static_cast<std::size_t>(i * 61 % 9000), static_cast<char>('a' + i % 26));
  data["empty"] = "";
  WriteLayout(leader.datadir(), data);
  WriteLayout(one.datadir(), data);
  Contents stale = data;
  stale.erase(KeyName(7));
  stale[KeyName(8)] = "old value";
  stale["deletedonleader"] = "gone";
  stale[KeyName(9)] = "404 page not found\n";
  WriteLayout(two.datadir(), stale);

  auto original = std::make_unique<OriginalStandIn>(leader.datadir(), leader.address(),
                                                    ports.client);
  ASSERT_TRUE(original->listening());
  one.Start();
  two.Start();
  // Reads are served at once, from the imported volumes.
  EXPECT_EQ(one.Contents(), data);
  EXPECT_EQ(two.Get("deletedonleader"), "gone");

  auto synced = [&](const Contents& want) {
    return WaitUntil([&] { return one.Contents() == want && two.Contents() == want; },
                     std::chrono::seconds(30));
  };
  ASSERT_TRUE(synced(data));
  for (Pod* pod : {&one, &two}) {
    EXPECT_EQ(Field(*pod, "mode"), "original-api") << pod->ReplicationJson();
    EXPECT_TRUE(WaitUntil([&] { return pod->Status("/readyz") == 200; }))
        << pod->ReplicationJson();
    auto metrics = pod->Client()->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("mehdb_follower_mode{mode=\"original-api\"} 1"),
              std::string::npos)
        << metrics->body.substr(0, 2000);
  }

  // The original leader keeps taking writes: an addition, a change and a
  // deletion reach both followers; a write to a follower still redirects.
  httplib::Client to_original(leader.url());
  auto res = to_original.Put("/set/added", "new", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "WRITE completed");
  data["added"] = "new";
  WriteKey(leader.datadir(), KeyName(3), "changed");
  data[KeyName(3)] = "changed";
  fs::remove_all(leader.datadir() + "/" + KeyName(4));
  data.erase(KeyName(4));
  ASSERT_TRUE(synced(data));
  EXPECT_EQ(one.Put("fromfollower", "x"), 307);

  // mehdb-0 is replaced by ours on the same volume: it imports it, and the
  // followers load a snapshot of it and stream from then on.
  original.reset();
  leader.Start();
  EXPECT_EQ(leader.Contents(), data);
  ASSERT_TRUE(WaitUntil(
      [&] { return Field(one, "mode") == "peer" && Field(two, "mode") == "peer" &&
                   Field(one, "state") == "streaming" && Field(two, "state") == "streaming"; },
      std::chrono::seconds(30)))
      << one.ReplicationJson() << "\n" << two.ReplicationJson();
  EXPECT_GE(JsonNumber(one.ReplicationJson(), "snapshots"), 1);
  ASSERT_TRUE(synced(data));
  ASSERT_EQ(leader.Put("afterupgrade", "replicated"), 200);
  data["afterupgrade"] = "replicated";
  ASSERT_TRUE(synced(data));
  EXPECT_EQ(leader.Contents(), data);
  for (Pod* pod : {&leader, &one, &two}) EXPECT_EQ(pod->Terminate(), 0);
  fs::remove_all(workdir);
}

// A peer URL that reaches the original (its only port) gets 404s: that is
// "no peer protocol" too.
TEST(OriginalLeader, A404OnThePeerPathAlsoMeansAnOriginalLeader) {
  char tmpl[] = "/tmp/mehdb-original-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string workdir = tmpl;
  Ports ports = Ports::ForThisProcess();
  ports.base_octet += 15;
  Pod leader(workdir, 0, ports), follower(workdir, 1, ports);
  const Contents data{{"abc", "one"}, {"def", std::string(70000, 'x')}};
  WriteLayout(leader.datadir(), data);
  OriginalStandIn original(leader.datadir(), leader.address(), ports.client);
  ASSERT_TRUE(original.listening());
  follower.SetExtraArgs({"--leader-peer-url=" + leader.url()});
  follower.Start();
  ASSERT_TRUE(WaitUntil([&] { return follower.Contents() == data; }, std::chrono::seconds(30)))
      << follower.ReplicationJson();
  EXPECT_EQ(Field(follower, "mode"), "original-api");
  EXPECT_EQ(follower.Terminate(), 0);
  fs::remove_all(workdir);
}

}  // namespace
}  // namespace mehdb::cluster

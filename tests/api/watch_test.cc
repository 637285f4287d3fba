// SPDX-License-Identifier: MIT
//
// GET /watch against an in-process server over a real store: changes from
// concurrent writers arrive in seq order with none missing and none from
// outside the prefix; values that are not UTF-8 come as base64, and
// values=false leaves values out; a `from` older than the retained log (or
// another history) is a 410 naming the oldest seq; bad parameters are 400s;
// and parked watches hold no worker (a two-thread pool keeps serving while
// many watches wait, and one write wakes them all).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace mehdb_test {
namespace {

using nlohmann::json;

// One long-poll: the parsed answer, or a null document on a transport
// error or a status other than 200 (then `status` says which).
json Poll(httplib::Client& cli, const std::string& query, int* status = nullptr) {
  auto res = cli.Get(("/watch?" + query).c_str());
  if (status != nullptr) *status = res ? res->status : 0;
  if (!res || res->status != 200) return nullptr;
  return json::parse(res->body);
}

class WatchTest : public LeaderTest {};

TEST_F(WatchTest, ConcurrentWritersArriveInSeqOrderWithNoneMissing) {
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 30;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([this, w] {
      auto cli = server_.Client();
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string n = std::to_string(w) + "-" + std::to_string(i);
        EXPECT_EQ(cli->Put(("/set/w-" + n).c_str(), "v" + n, "text/plain")->status, 200);
        // Writes outside the prefix must not be answered.
        EXPECT_EQ(cli->Put(("/set/other-" + n).c_str(), "x", "text/plain")->status, 200);
      }
    });
  }
  // The watcher starts from the beginning while the writers run, and keeps
  // polling from each answer's `next`, with small pages to cross many.
  std::vector<json> events;
  std::uint64_t next = 1;
  auto cli = server_.Client();
  cli->set_read_timeout(20, 0);
  while (events.size() < kWriters * kPerWriter) {
    const json doc = Poll(*cli, "prefix=w-&limit=7&wait=10s&from=" + std::to_string(next));
    ASSERT_TRUE(doc.is_object());
    ASSERT_GE(doc["next"].get<std::uint64_t>(), next);
    next = doc["next"];
    for (const auto& e : doc["events"]) events.push_back(e);
    ASSERT_LE(doc["events"].size(), 7u);
  }
  for (auto& t : writers) t.join();
  std::set<std::string> keys;
  std::uint64_t last = 0;
  for (const json& e : events) {
    EXPECT_GT(e["seq"].get<std::uint64_t>(), last) << e.dump();
    last = e["seq"];
    EXPECT_EQ(e["op"], "put");
    const std::string key = e["key"];
    EXPECT_EQ(key.rfind("w-", 0), 0u) << key;
    EXPECT_EQ(e["value"], "v" + key.substr(2));
    EXPECT_EQ(e["size"], key.size() - 1);
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(kWriters * kPerWriter));
  // Nothing more under the prefix: a short wait answers no events.
  const json quiet = Poll(*cli, "prefix=w-&wait=200ms&from=" + std::to_string(next));
  ASSERT_TRUE(quiet.is_object());
  EXPECT_TRUE(quiet["events"].empty());
  EXPECT_EQ(quiet["next"], quiet["last_seq"].get<std::uint64_t>() + 1);
}

TEST_F(WatchTest, DeletesBinaryValuesAndSizesOnly) {
  const std::string binary("\xff\x00\x01", 3);
  ASSERT_EQ(PutStatus("k", "text"), 200);
  auto put = cli_->Put("/set/b", binary, "application/octet-stream");
  ASSERT_EQ(put->status, 200);
  ASSERT_EQ(cli_->Delete("/set/k")->status, 204);
  const json doc = Poll(*cli_, "from=1&wait=0s");
  ASSERT_TRUE(doc.is_object());
  ASSERT_EQ(doc["events"].size(), 3u) << doc.dump();
  EXPECT_EQ(doc["events"][0], json::parse(R"({"seq":1,"op":"put","key":"k","size":4,"value":"text"})"));
  EXPECT_EQ(doc["events"][1]["value_base64"], "/wAB");
  EXPECT_FALSE(doc["events"][1].contains("value"));
  EXPECT_EQ(doc["events"][2], json::parse(R"({"seq":3,"op":"delete","key":"k"})"));
  EXPECT_EQ(doc["history"], server_.store().History().ToHex());
  const json sizes = Poll(*cli_, "from=1&wait=0s&values=false");
  ASSERT_TRUE(sizes.is_object());
  EXPECT_EQ(sizes["events"][0], json::parse(R"({"seq":1,"op":"put","key":"k","size":4})"));
  // Without `from`: only what commits after the watch began.
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(server_.Client()->Put("/set/late", "v", "text/plain")->status, 200);
  });
  const json fresh = Poll(*cli_, "wait=10s");
  later.join();
  ASSERT_TRUE(fresh.is_object());
  ASSERT_EQ(fresh["events"].size(), 1u) << fresh.dump();
  EXPECT_EQ(fresh["events"][0]["key"], "late");
  EXPECT_EQ(fresh["events"][0]["seq"], 4);
}

TEST_F(WatchTest, BadParametersAre400) {
  for (const char* query : {"from=0", "from=x", "limit=0", "limit=10001", "wait=soon",
                            "values=maybe", "from=1&from=2"}) {
    int status = 0;
    Poll(*cli_, query, &status);
    EXPECT_EQ(status, 400) << query;
  }
}

TEST(Watch, AFromOlderThanTheRetainedLogIs410WithTheOldestSeq) {
  mehdb::Options store = TestServer::QuickStore();
  store.log_retain_entries = 5;
  store.log_retain_bytes = 1 << 20;
  TestServer server(LeaderIdentity(), {}, store);
  auto cli = server.Client();
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(cli->Put(("/set/k" + std::to_string(i)).c_str(), "v", "text/plain")->status, 200);
  // The log is trimmed as the writes reach LMDB, which may trail their
  // acknowledgement a little: wait for the applier to catch up, so the
  // oldest retained seq no longer moves while the test reads from it.
  for (int i = 0; i < 500; ++i) {
    auto metrics = cli->Get("/metrics");
    ASSERT_TRUE(metrics);
    if (metrics->body.find("\nmehdb_store_applier_lag_seqs 0\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int status = 0;
  std::string text, oldest_header;
  for (int i = 0; i < 250 && status != 410; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? 0 : 20));
    auto res = cli->Get("/watch?from=1&wait=0s");
    ASSERT_TRUE(res);
    status = res->status;
    text = res->body;
    oldest_header = res->get_header_value("X-Mehdb-Oldest-Seq");
  }
  ASSERT_EQ(status, 410) << text;
  const json body = json::parse(text);
  const std::uint64_t oldest = body["oldest_seq"];
  EXPECT_EQ(oldest_header, std::to_string(oldest));
  EXPECT_GT(oldest, 1u);
  EXPECT_LE(oldest, 26u);  // at least the last 5 records are kept
  EXPECT_EQ(body["last_seq"], 30);
  // From the oldest retained seq on, the watch answers.
  const json doc = Poll(*cli, "wait=0s&from=" + std::to_string(oldest));
  ASSERT_TRUE(doc.is_object());
  ASSERT_FALSE(doc["events"].empty());
  EXPECT_EQ(doc["events"][0]["seq"], oldest);
  EXPECT_EQ(doc["next"], 31);
  // Another history's seqs mean other changes: also re-list.
  auto res = cli->Get(("/watch?wait=0s&from=" + std::to_string(oldest) + "&history=" +
                       std::string(32, '0')).c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 410) << res->body;
}

TEST(Watch, ParkedWatchesHoldNoWorker) {
  mehdbd::http::ServerOptions options;
  options.threads = 2;
  options.read_timeout = std::chrono::seconds(60);
  options.idle_timeout = std::chrono::seconds(60);
  TestServer server(LeaderIdentity(), options);
  auto cli = server.Client();
  ASSERT_EQ(cli->Put("/set/k", "v0", "text/plain")->status, 200);
  std::vector<int> watchers;
  for (int i = 0; i < 24; ++i) {
    watchers.push_back(ConnectLoopback(server.port()));
    ASSERT_TRUE(SendAll(watchers.back(),
                        "GET /watch?prefix=p&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  // Requests that need a worker still go through: with a worker per
  // parked watch, they would queue behind 60 s waits.
  for (int i = 0; i < 5; ++i) {
    auto keys = cli->Get("/keys");
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->status, 200);
    auto get = cli->Get("/get/k?min_seq=1");
    ASSERT_TRUE(get);
    EXPECT_EQ(get->body, "v0");
    // A write outside the prefix wakes the watches, which park again.
    ASSERT_EQ(cli->Put("/set/q" + std::to_string(i), "x", "text/plain")->status, 200);
  }
  for (int fd : watchers) EXPECT_TRUE(StillWaiting(fd));
  ASSERT_EQ(cli->Put("/set/p1", "hello", "text/plain")->status, 200);
  for (int fd : watchers) {
    const std::string answer = ReadUntil(fd, "]}\n", std::chrono::seconds(10));
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer;
    EXPECT_NE(answer.find(R"("key":"p1","size":5,"value":"hello")"), std::string::npos) << answer;
    ::close(fd);
  }
}

}  // namespace
}  // namespace mehdb_test

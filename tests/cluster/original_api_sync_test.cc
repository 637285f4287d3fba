// SPDX-License-Identifier: MIT
//
// OriginalApiSync (mehdbd/replication/original_api_sync.h) against the
// stand-in of the original's API on 127.0.0.1, into a real store: the cost
// of a cycle stays within its download budget while every change still
// arrives within ceil(N / max_gets) cycles, deletions apply every cycle, and
// an answer other than 200/404 is an error that stores nothing.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <mehdb/store.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "original_standin.h"
#include "replication/original_api_sync.h"

namespace mehdb::cluster {
namespace {

namespace fs = std::filesystem;
using mehdbd::replication::OriginalApiLimits;
using mehdbd::replication::OriginalApiSync;

class OriginalApiSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mehdb-origsync-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/leader");
    // A port of this process's own (see pod.cc: 4 per process from 30000).
    port_ = 30000 + static_cast<int>(getpid() % 500) * 4 + 2;
    auto store = mehdb::Store::Open(dir_ + "/store", mehdb::Options{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void Write(const std::string& key, const std::string& value) {
    fs::create_directories(dir_ + "/leader/" + key);
    std::ofstream(dir_ + "/leader/" + key + "/content", std::ios::binary | std::ios::trunc) << value;
  }
  std::map<std::string, std::string> Contents() {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(store_
                    ->ForEach(mehdb::ScanOptions{},
                              [&](std::string_view k, std::string_view v, auto) {
                                out.emplace(k, v);
                                return true;
                              })
                    .ok());
    return out;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<mehdb::Store> store_;
  std::atomic<bool> stop_{false};
};

std::string Key(int i) { return std::string("key") + static_cast<char>('a' + i / 26) +
                                static_cast<char>('a' + i % 26); }

TEST_F(OriginalApiSyncTest, EachCycleStaysWithinItsBudgetAndEveryChangeArrives) {
  std::map<std::string, std::string> want;
  for (int i = 0; i < 25; ++i) Write(Key(i), want[Key(i)] = "v1-" + std::to_string(i));
  OriginalStandIn leader(dir_ + "/leader", "127.0.0.1", port_);
  ASSERT_TRUE(leader.listening());
  OriginalApiLimits limits;
  limits.max_gets = 10;
  OriginalApiSync sync(url(), {}, nullptr, limits);
  ASSERT_TRUE(sync.LeaderAnswersStatus());

  // New keys: 10 per cycle; the rest is the follower's lag.
  for (std::uint64_t missing : {15u, 5u, 0u}) {
    auto done = sync.RunCycle(*store_, stop_);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_LE(done->downloads, 10u);
    EXPECT_EQ(done->missing, missing);
  }
  EXPECT_EQ(Contents(), want);

  // Every value changes, two keys go, one comes: deletions and the new key
  // in the first cycle, the changes within ceil(25 / 10) = 3 cycles.
  for (int i = 0; i < 25; ++i) Write(Key(i), want[Key(i)] = "v2-" + std::to_string(i));
  fs::remove_all(dir_ + "/leader/" + Key(3));
  fs::remove_all(dir_ + "/leader/" + Key(17));
  want.erase(Key(3));
  want.erase(Key(17));
  Write("added", want["added"] = "new");
  auto first = sync.RunCycle(*store_, stop_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->erases, 2u);
  EXPECT_LE(first->downloads, 10u);
  auto now = Contents();
  EXPECT_EQ(now.count(Key(3)) + now.count(Key(17)), 0u);
  EXPECT_EQ(now["added"], "new");
  EXPECT_NE(now, want) << "one cycle cannot have re-read all 24 keys";
  for (int cycle = 0; cycle < 2; ++cycle) {
    auto done = sync.RunCycle(*store_, stop_);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_LE(done->downloads, 10u);
  }
  EXPECT_EQ(Contents(), want);

  // Nothing changed: a cycle downloads its share and writes nothing.
  const Seq before = store_->LastSeq();
  auto idle = sync.RunCycle(*store_, stop_);
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(idle->puts + idle->erases, 0u);
  EXPECT_EQ(store_->LastSeq(), before);
}

TEST_F(OriginalApiSyncTest, ALeaderErrorIsNeverStoredAsAValue) {
  // Not the original: a leader whose /get fails with 500 for one key.
  httplib::Server broken;
  std::atomic<bool> garbage_list{false};
  broken.Get("/keys", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(garbage_list ? "[\"ok\", 42]" : "[\"bad\",\"good\"]\n", "text/plain");
  });
  broken.Get("/get/good", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("fine", "application/octet-stream");
  });
  broken.Get("/get/bad", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("open /mehdbdata/bad/content: input/output error", "text/plain");
  });
  broken.set_socket_options([](socket_t sock) {  // as the stand-in: TIME_WAIT from the last test
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  ASSERT_TRUE(broken.bind_to_port("127.0.0.1", port_));
  std::thread thread([&] { broken.listen_after_bind(); });
  OriginalApiSync sync(url(), {}, nullptr, OriginalApiLimits{});
  auto done = sync.RunCycle(*store_, stop_);
  EXPECT_FALSE(done.ok());
  EXPECT_NE(done.status().ToString().find("500"), std::string::npos) << done.status().ToString();
  EXPECT_EQ(Contents().count("bad"), 0u);

  // Garbage for a key list is refused too, and changes nothing.
  garbage_list = true;
  const auto before = Contents();
  auto garbage = sync.RunCycle(*store_, stop_);
  EXPECT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().ToString().find("non-string"), std::string::npos)
      << garbage.status().ToString();
  EXPECT_EQ(Contents(), before);
  broken.stop();
  thread.join();
}

}  // namespace
}  // namespace mehdb::cluster

// SPDX-License-Identifier: MIT
//
// GET /backup streams a consistent copy of the store that opens as a store
// with the same data, history and sequence, taken while the server serves.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "harness.h"

namespace mehdb_test {
namespace {

TEST(Backup, StreamsACopyThatOpensAsAStore) {
  TestServer server(LeaderIdentity(), mehdbd::http::ServerOptions{});
  auto cli = server.Client();
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(cli->Put(("/set/key" + std::to_string(i)).c_str(),
                       std::string(1000 + i, static_cast<char>('a' + i % 26)),
                       "application/octet-stream")
                  ->status,
              200);
  }
  ASSERT_EQ(cli->Delete("/set/key7")->status, 204);
  auto res = cli->Get("/backup");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(res->get_header_value("X-Mehdb-Applied-Seq"), "201");
  EXPECT_GT(res->get_header_value<std::uint64_t>("X-Mehdb-Size-Estimate"), 0u);

  TempDir copy;
  std::filesystem::create_directories(copy.Sub("store"));
  WriteFile(copy.Sub("store/data.mdb"), res->body);
  auto opened = mehdb::Store::Open(copy.Sub("store"), TestServer::QuickStore());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  mehdb::Store& store = **opened;
  EXPECT_EQ(*store.Count(), 199u);
  EXPECT_EQ(store.LastSeq(), 201u);
  EXPECT_TRUE(store.History() == server.store().History());
  auto v = store.Get("key42");
  ASSERT_TRUE(v.ok() && *v);
  EXPECT_EQ((*v)->data, std::string(1042, static_cast<char>('a' + 42 % 26)));
  EXPECT_FALSE(*store.Get("key7"));
}

TEST(Backup, HeadStartsNoCopy) {
  TestServer server(LeaderIdentity(), mehdbd::http::ServerOptions{});
  auto res = server.Client()->Head("/backup");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "");
}

// A client that hangs up mid-copy must not leave the copy thread stuck
// (the server would then never finish shutting down).
TEST(Backup, AClientLeavingMidCopyFreesTheServer) {
  TestServer server(LeaderIdentity(), mehdbd::http::ServerOptions{});
  mehdb::Batch batch;
  for (int i = 0; i < 400; ++i)
    batch.Put("k" + std::to_string(i), std::string(20000, 'x'));
  ASSERT_TRUE(server.store().Write(batch).ok());
  const int fd = ConnectLoopback(server.port());
  ASSERT_TRUE(SendAll(fd, "GET /backup HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(ReadUntil(fd, "\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  ::close(fd);  // with megabytes still to come
  EXPECT_EQ(server.Client()->Get("/status")->body, "leader");
  server.Stop();  // returns only once the copy's handler has finished
}

}  // namespace
}  // namespace mehdb_test

// SPDX-License-Identifier: MIT
//
// Failure answers and the protections of a long-running server: 413 before
// the body is read, 507 on a full disk, the error table, early answers that
// close the connection, and read/idle timeouts that free worker threads.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "http/errors.h"

namespace mehdb_test {
namespace {

using mehdbd::http::ServerOptions;

ServerOptions SmallValues() {
  ServerOptions o;
  o.max_value_bytes = 1000;
  return o;
}

TEST(Failure, ValueOverTheLimitIs413BeforeTheBodyIsRead) {
  TestServer server(LeaderIdentity(), SmallValues());
  // Only the headers are sent: the answer must come without the body.
  const int fd = ConnectLoopback(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "PUT /set/big HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 1073741824\r\n\r\n"));
  const std::string answer = ReadUntil(fd, "\r\n\r\n");
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;

  auto cli = server.Client();
  EXPECT_EQ(cli->Put("/set/ok", std::string(1000, 'x'), "text/plain")->status,
            200);
  auto res = cli->Put("/set/over", std::string(1001, 'x'), "text/plain");
  EXPECT_EQ(res->status, 413);
  EXPECT_NE(res->body.find("1000"), std::string::npos);
  EXPECT_EQ(cli->Get("/get/over")->status, 404);
}

TEST(Failure, ChunkedUploadOverTheLimitIs413) {
  TestServer server(LeaderIdentity(), SmallValues());
  std::string chunk(600, 'x');
  std::string request =
      "PUT /set/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) request += "258\r\n" + chunk + "\r\n";
  request += "0\r\n\r\n";
  const std::string answer = RawExchange(server.port(), request);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer;
  EXPECT_EQ(server.Client()->Get("/get/big")->status, 404);

  // Within the limit, chunked works.
  const std::string ok = RawExchange(
      server.port(),
      "PUT /set/small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 ", 0), 0u) << ok;
  EXPECT_EQ(server.Client()->Get("/get/small")->body, "hello");
}

TEST(Failure, ExpectContinueGetsTheFinalAnswerInsteadOf100) {
  TestServer server(LeaderIdentity(), SmallValues());
  std::string answer =
      RawExchange(server.port(),
                  "PUT /set/big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                  "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer;

  TestServer follower(FollowerIdentity("http://leader.example:1"),
                      ServerOptions{});
  answer =
      RawExchange(follower.port(),
                  "PUT /set/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"
                  "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 307 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Location: http://leader.example:1/set/abc\r\n"),
            std::string::npos);

  // A body that is wanted gets its 100 Continue, then the answer.
  const int fd = ConnectLoopback(server.port());
  ASSERT_TRUE(SendAll(fd,
                      "PUT /set/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                      "Expect: 100-continue\r\n\r\n"));
  EXPECT_EQ(ReadUntil(fd, "\r\n\r\n").rfind("HTTP/1.1 100 Continue", 0), 0u);
  ASSERT_TRUE(SendAll(fd, "abc"));
  EXPECT_EQ(ReadUntil(fd, "WRITE completed").rfind("HTTP/1.1 200 ", 0), 0u);
  ::close(fd);
}

TEST(Failure, AnswersGivenWithoutReadingTheBodyCloseTheConnection) {
  TestServer server(LeaderIdentity(), ServerOptions{});
  // The unread body looks like a request; it must not be taken for one.
  const std::string smuggled = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string answer =
      RawExchange(server.port(),
                  "POST /set/abc HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                      std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
  EXPECT_EQ(answer.rfind("HTTP/1.1 405 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("leader"), std::string::npos) << answer;
}

TEST(Failure, StoreErrorsMapToOneTable) {
  using mehdb::Code;
  using mehdbd::http::HttpStatusFor;
  EXPECT_EQ(HttpStatusFor(Code::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(Code::kValueTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(Code::kAborted), 412);
  EXPECT_EQ(HttpStatusFor(Code::kResourceExhausted), 507);
  EXPECT_EQ(HttpStatusFor(Code::kNoSpace), 507);
  EXPECT_EQ(HttpStatusFor(Code::kUnavailable), 503);
  for (Code c : {Code::kReadOnly, Code::kDataLoss, Code::kInternal}) {
    EXPECT_EQ(HttpStatusFor(c), 500);
  }
  // Bodies name the problem, never the store's message (it may hold paths).
  mehdbd::net::Response res;
  mehdbd::http::AnswerStoreError(
      res,
      mehdb::Status(Code::kInternal, "mdb_put /var/lib/mehdb/data.mdb: bad"),
      "test");
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body.find("/var/lib"), std::string::npos) << res.body;
}

// A full disk answers 507 and the store stays readable. Needs root to mount
// a small tmpfs (CI runs as root).
TEST(Failure, FullDiskIs507) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  TempDir dir;
  if (::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=4m") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs here: " << std::strerror(errno);
  }
  {
    mehdb::Options store = TestServer::QuickStore();
    store.map_bytes = std::uint64_t{64} << 20;  // larger than the disk
    TestServer server(LeaderIdentity(), ServerOptions{}, store,
                      dir.Sub("data"));
    auto cli = server.Client();
    ASSERT_EQ(cli->Put("/set/first", "kept", "text/plain")->status, 200);
    int status = 200;
    for (int i = 0; i < 100000 && status == 200; ++i) {
      auto res = cli->Put(("/set/fill" + std::to_string(i)).c_str(),
                          std::string(1000, 'x'), "application/octet-stream");
      ASSERT_TRUE(res);
      status = res->status;
    }
    EXPECT_EQ(status, 507);
    EXPECT_EQ(cli->Get("/get/first")->body, "kept");
    EXPECT_EQ(cli->Get("/readyz")->status, 200);
  }
  ::umount2(dir.path().c_str(), MNT_DETACH);
}

TEST(Failure, SlowAndIdleClientsAreDisconnectedAndDoNotBlockOthers) {
  ServerOptions options;
  options.threads = 2;
  options.read_timeout = std::chrono::milliseconds(200);
  options.idle_timeout = std::chrono::seconds(1);
  TestServer server(LeaderIdentity(), options);
  // One client stalls inside its headers, another idles after a request.
  const int slow = ConnectLoopback(server.port());
  ASSERT_TRUE(SendAll(slow, "GET /status HTTP/1.1\r\nHost: x\r\n"));
  const int idle = ConnectLoopback(server.port());
  ASSERT_TRUE(SendAll(idle, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(ReadUntil(idle, "leader").find("leader"), std::string::npos);
  // Neither holds a worker while it waits; both must still be closed by
  // the server (read_timeout for the stalled head, idle_timeout for the
  // idle one), well within 10 s.
  const ReadToClose slow_rest = ReadUntilClosed(slow, std::chrono::seconds(10));
  const ReadToClose idle_rest = ReadUntilClosed(idle, std::chrono::seconds(10));
  ::close(slow);
  ::close(idle);
  EXPECT_TRUE(slow_rest.closed) << "a client stalled in its head was never disconnected";
  EXPECT_TRUE(idle_rest.closed) << "an idle client was never disconnected";
  EXPECT_EQ(slow_rest.bytes.find("200 OK"), std::string::npos) << slow_rest.bytes;
  EXPECT_EQ(idle_rest.bytes, "");
  auto res = server.Client()->Get("/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "leader");
}

// The head deadline is for the whole head: a client sending a byte every
// 50 ms, each well within read_timeout, is still cut off with 408 while it
// trickles (a per-read timeout alone would wait for the whole head, which
// takes 10 s here, and only then time out).
TEST(Failure, TrickledHeadGets408) {
  ServerOptions options;
  options.read_timeout = std::chrono::milliseconds(300);
  TestServer server(LeaderIdentity(), options);
  const int slow = ConnectLoopback(server.port());
  const std::string head = "GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(160, 'a');
  std::string answer;
  std::size_t sent = 0;
  while (sent < head.size() && answer.empty()) {
    if (!SendAll(slow, head.substr(sent, 1))) break;
    ++sent;
    answer += ReadUntil(slow, "\r\n\r\n", std::chrono::milliseconds(50));
  }
  answer += ReadUntil(slow, "\r\n\r\n", std::chrono::seconds(5));
  ::close(slow);
  EXPECT_LT(sent, head.size()) << "the whole head was trickled in without a deadline";
  EXPECT_EQ(answer.rfind("HTTP/1.1 408 ", 0), 0u) << answer;
}

TEST(Failure, HeadOver16KiBIs431) {
  TestServer server(LeaderIdentity(), ServerOptions{});
  const std::string answer = RawExchange(
      server.port(), "GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a'));
  EXPECT_EQ(answer.rfind("HTTP/1.1 431 ", 0), 0u) << answer.substr(0, 200);
  // Two header lines of 6000 bytes (cpp-httplib's own limit is 8192 a line)
  // are under it and served.
  auto res = server.Client()->Get(
      "/status", {{"X-Big", std::string(6000, 'a')}, {"X-Big2", std::string(6000, 'b')}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// Between requests a connection goes idle: it drops its buffers and waits
// for readability with none (mehdbd/net/connection.cc). The next request
// is served however it comes: sent at once behind the answer, sent after
// the connection went idle, or with its head in two parts, the first read
// by the idle wait and the rest after it.
TEST(Failure, KeepAliveRequestsAtOnceAfterIdleAndInParts) {
  ServerOptions options;
  options.threads = 1;
  TestServer server(LeaderIdentity(), options);
  const int sock = ConnectLoopback(server.port());
  const std::string request = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(SendAll(sock, request));
  EXPECT_NE(ReadUntil(sock, "leader").find("leader"), std::string::npos);
  ASSERT_TRUE(SendAll(sock, request));  // at once
  EXPECT_NE(ReadUntil(sock, "leader").find("leader"), std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // idle by now
  ASSERT_TRUE(SendAll(sock, request));
  EXPECT_NE(ReadUntil(sock, "leader").find("leader"), std::string::npos);
  ASSERT_TRUE(SendAll(sock, "GET /status HTTP/1.1\r\nHo"));  // wakes the idle wait
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(SendAll(sock, "st: x\r\n\r\n"));  // completes the head
  EXPECT_NE(ReadUntil(sock, "leader").find("leader"), std::string::npos);
  // The one worker is free for others while this connection idles.
  auto res = server.Client()->Get("/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "leader");
  // A head over the limit after an answer is cut off as on a new connection.
  ASSERT_TRUE(SendAll(sock, "GET /status HTTP/1.1\r\nX-Big: " + std::string(20000, 'a')));
  const std::string answer = ReadUntil(sock, "<never>", std::chrono::seconds(5));
  ::close(sock);
  EXPECT_EQ(answer.rfind("HTTP/1.1 431 ", 0), 0u) << answer.substr(0, 200);
}

// Connections waiting for a request hold no worker: with one worker thread,
// fifty idle connections and one that stalls mid-head do not delay others.
TEST(Failure, WaitingConnectionsHoldNoWorker) {
  ServerOptions options;
  options.threads = 1;
  TestServer server(LeaderIdentity(), options);
  std::vector<int> waiting;
  for (int i = 0; i < 50; ++i) waiting.push_back(ConnectLoopback(server.port()));
  ASSERT_TRUE(SendAll(waiting.back(), "GET /status HTTP/1.1\r\nHo"));
  auto cli = server.Client();
  for (int i = 0; i < 5; ++i) {
    auto res = cli->Get("/status");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body, "leader");
  }
  for (int fd : waiting) ::close(fd);
}

}  // namespace
}  // namespace mehdb_test

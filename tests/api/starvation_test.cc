// SPDX-License-Identifier: MIT
//
// No client, however slow, holds a worker: attacks from the front end's
// threat list run against an in-process server with a tiny worker pool (2
// threads), and normal requests must be answered while every attacking
// connection is still open and stalled. That is an ordering, not a timing,
// assertion: with a thread per waiting client the normal requests would
// queue behind the attackers until their deadlines (set long here) passed.
// Also: the body budget (503 + Retry-After) and max_connections (the oldest
// idle connection is closed first).
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "http/auth.h"
#include "token_file.h"

namespace mehdb_test {
namespace {

using mehdbd::http::ServerOptions;
using std::chrono::milliseconds;

ServerOptions TinyPool() {
  ServerOptions o;
  o.threads = 2;
  // Long deadlines: the attackers must still be connected when the normal
  // requests are checked.
  o.read_timeout = std::chrono::seconds(60);
  o.idle_timeout = std::chrono::seconds(60);
  return o;
}

// True while the server has neither answered nor closed `fd`.
bool StillWaiting(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool WaitUntilTrue(const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

class Attackers {
 public:
  ~Attackers() {
    for (int fd : fds_) ::close(fd);
  }
  int Open(int port, const std::string& first_bytes) {
    const int fd = ConnectLoopback(port);
    if (fd >= 0) {
      SendAll(fd, first_bytes);
      fds_.push_back(fd);
    }
    return fd;
  }
  // Every attacker's next byte: they keep trickling.
  void Trickle(const std::string& byte) {
    for (int fd : fds_) SendAll(fd, byte);
  }
  std::size_t Waiting() const {
    std::size_t n = 0;
    for (int fd : fds_) n += StillWaiting(fd) ? 1 : 0;
    return n;
  }
  std::size_t size() const { return fds_.size(); }

 private:
  std::vector<int> fds_;
};

// 20 GETs and 5 PUTs on a fresh keep-alive client; true when all were 200.
bool NormalTraffic(TestServer& server) {
  auto cli = server.Client();
  cli->set_read_timeout(60, 0);
  for (int i = 0; i < 5; ++i) {
    auto put = cli->Put(("/set/normal" + std::to_string(i)).c_str(), "v", "text/plain");
    if (!put || put->status != 200) return false;
  }
  for (int i = 0; i < 20; ++i) {
    auto get = cli->Get("/get/normal0");
    if (!get || get->status != 200) return false;
  }
  return true;
}

TEST(Starvation, TricklingBodiesHoldNoWorker) {
  TestServer server(LeaderIdentity(), TinyPool());
  Attackers attackers;
  for (int i = 0; i < 80; ++i)
    ASSERT_GE(attackers.Open(server.port(), "PUT /set/slow" + std::to_string(i) +
                                                " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx"),
              0);
  attackers.Trickle("x");
  EXPECT_TRUE(NormalTraffic(server));
  attackers.Trickle("x");
  EXPECT_EQ(attackers.Waiting(), attackers.size());
}

TEST(Starvation, SlowHeadsAndIdleConnectionsHoldNoWorker) {
  TestServer server(LeaderIdentity(), TinyPool());
  Attackers attackers;
  for (int i = 0; i < 40; ++i)
    ASSERT_GE(attackers.Open(server.port(), "GET /keys HTTP/1.1\r\nHost: x\r\nX-Slow: "), 0);
  for (int i = 0; i < 40; ++i) ASSERT_GE(attackers.Open(server.port(), ""), 0);
  EXPECT_TRUE(NormalTraffic(server));
  EXPECT_EQ(attackers.Waiting(), attackers.size());
}

// With auth on, unauthenticated PUTs with big bodies get 401 before their
// bodies are read; the connection then drains and closes without a worker.
TEST(Starvation, RefusedUnauthenticatedPutsHoldNoWorker) {
  TempDir files;
  WriteFile(files.Sub("token"), "tok3n\n");
  std::string error;
  auto token = mehdbd::TokenFile::Open(files.Sub("token"), error);
  ASSERT_TRUE(token) << error;
  mehdbd::http::Authenticator auth(*token, mehdbd::http::ReadPolicy::kOpen);
  TestServer server(LeaderIdentity(), TinyPool(), TestServer::QuickStore(), "", &auth);
  Attackers attackers;
  for (int i = 0; i < 80; ++i)
    ASSERT_GE(attackers.Open(server.port(),
                             "PUT /set/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                                 std::string(1000, 'b')),
              0);
  auto cli = server.Client();
  cli->set_bearer_token_auth("tok3n");
  for (int i = 0; i < 10; ++i) {
    auto put = cli->Put("/set/ok", "v", "text/plain");
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 200);
  }
  auto get = cli->Get("/get/ok");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(auth.Rejected(mehdbd::http::Listener::kApi, mehdbd::http::AuthOutcome::kMissing),
            80u);
}

// Bodies buffered at once are bounded: past the budget a PUT is refused
// with 503 and Retry-After before its body is read, and once the bodies in
// flight are done, writes go through again.
TEST(Starvation, BodyBudgetRefusesWith503) {
  ServerOptions options = TinyPool();
  options.max_buffered_bodies = 1 << 20;
  TestServer server(LeaderIdentity(), options);
  const std::string head =
      "PUT /set/big HTTP/1.1\r\nHost: x\r\nContent-Length: 614400\r\n\r\n";
  const int a = ConnectLoopback(server.port());
  ASSERT_TRUE(SendAll(a, head + "x"));
  // The first body holds 600 KiB of the 1 MiB budget.
  ASSERT_TRUE(WaitUntilTrue([&] {
    return server.server().FrontEndStats().buffered_body_bytes == 614400;
  })) << server.server().FrontEndStats().buffered_body_bytes;
  std::string third;
  for (int attempt = 0; attempt < 100; ++attempt) {
    third = RawExchange(server.port(), head + std::string(614400, 'y'),
                        milliseconds(500));
    if (third.rfind("HTTP/1.1 503 ", 0) == 0) break;
  }
  EXPECT_EQ(third.rfind("HTTP/1.1 503 ", 0), 0u) << third.substr(0, 200);
  EXPECT_NE(third.find("Retry-After: 1"), std::string::npos);
  // The first body completes and is stored; the budget is free again.
  ASSERT_TRUE(SendAll(a, std::string(614399, 'x')));
  const std::string first = ReadUntil(a, "WRITE completed");
  EXPECT_EQ(first.rfind("HTTP/1.1 200 ", 0), 0u) << first.substr(0, 200);
  ::close(a);
  const std::string again = RawExchange(server.port(), head + std::string(614400, 'z'),
                                        milliseconds(500));
  EXPECT_EQ(again.rfind("HTTP/1.1 200 ", 0), 0u) << again.substr(0, 200);
  EXPECT_GE(server.server().FrontEndStats().budget_refusals, 1u);
}

// At max_connections the oldest idle connection is closed for a new one.
TEST(Starvation, MaxConnectionsClosesTheOldestIdleFirst) {
  ServerOptions options;
  options.max_connections = 8;
  TestServer server(LeaderIdentity(), options);
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) {
    const int fd = ConnectLoopback(server.port());
    ASSERT_TRUE(SendAll(fd, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_NE(ReadUntil(fd, "\r\n\r\n").find("200 OK"), std::string::npos);
    fds.push_back(fd);
  }
  // A ninth client is served...
  const std::string answer = RawExchange(
      server.port(), "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer;
  // ...and the first (oldest idle) connection was closed for it, the rest
  // still work.
  EXPECT_EQ(ReadUntil(fds[0], "<never>", std::chrono::seconds(5)), "");
  char c;
  EXPECT_EQ(::recv(fds[0], &c, 1, MSG_DONTWAIT), 0);
  ASSERT_TRUE(SendAll(fds[7], "GET /status HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(ReadUntil(fds[7], "\r\n\r\n").find("200 OK"), std::string::npos);
  EXPECT_GE(server.server().FrontEndStats().shed_connections, 1u);
  for (int fd : fds) ::close(fd);
}

}  // namespace
}  // namespace mehdb_test

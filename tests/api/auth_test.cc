// SPDX-License-Identifier: MIT
//
// Bearer-token authentication against in-process servers over real stores:
// what is protected and what stays open, 401 (with WWW-Authenticate) for no
// token and 403 for a wrong one, nothing written by a refused request, the
// check running before a body is read and before a follower's 307, the
// rejection counters in /metrics, the peer listener, and token files that
// change under a running server (rewritten in place, and swapped the way
// the kubelet updates a mounted Secret: a `..data` symlink flip).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "harness.h"
#include "auth/authenticator.h"
#include "replication/peer_server.h"
#include "base/token_file.h"

namespace mehdb_test {
namespace {

using mehdbd::TokenFile;
using mehdbd::auth::AuthOutcome;
using mehdbd::auth::Authenticator;
using mehdbd::auth::Listener;
using mehdbd::auth::ReadPolicy;
using std::chrono::milliseconds;

constexpr char kToken[] = "s3cret-Token_1";

std::unique_ptr<TokenFile> OpenToken(const std::string& path,
                                     milliseconds recheck = milliseconds(0)) {
  std::string error;
  auto file = TokenFile::Open(path, error, recheck);
  EXPECT_TRUE(file) << error;
  return file;
}

httplib::Headers Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

// A leader that requires kToken for writes (and for reads with kToken).
class AuthTest : public ::testing::Test {
 protected:
  explicit AuthTest(ReadPolicy reads = ReadPolicy::kOpen)
      : token_file_(Write(files_.Sub("token"), std::string(kToken) + "\n")),
        token_(OpenToken(token_file_)),
        auth_(*token_, reads),
        server_(LeaderIdentity(), {}, TestServer::QuickStore(), "", &auth_),
        cli_(server_.Client()) {}

  static std::string Write(const std::string& path, const std::string& text) {
    WriteFile(path, text);
    return path;
  }
  int Status(const std::string& method, const std::string& path,
             const httplib::Headers& headers = {}) {
    httplib::Result res{nullptr, httplib::Error::Unknown};
    if (method == "GET") res = cli_->Get(path.c_str(), headers);
    if (method == "HEAD") res = cli_->Head(path.c_str(), headers);
    if (method == "PUT") res = cli_->Put(path.c_str(), headers, "v", "text/plain");
    if (method == "DELETE") res = cli_->Delete(path.c_str(), headers);
    return res ? res->status : -1;
  }

  TempDir files_;
  std::string token_file_;
  std::unique_ptr<TokenFile> token_;
  Authenticator auth_;
  TestServer server_;
  std::unique_ptr<httplib::Client> cli_;
};

class ProtectedReadsTest : public AuthTest {
 protected:
  ProtectedReadsTest() : AuthTest(ReadPolicy::kToken) {}
};

TEST(BearerToken, ParsesTheSchemeCaseInsensitively) {
  using mehdbd::auth::BearerToken;
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER   abc  "), "abc");
  EXPECT_EQ(BearerToken("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), "");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(TokenFileOpen, RefusesWhatCannotBeAToken) {
  TempDir dir;
  std::string error;
  EXPECT_FALSE(TokenFile::Open(dir.Sub("missing"), error));
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
  EXPECT_FALSE(TokenFile::Open(dir.path(), error));  // a directory
  EXPECT_NE(error.find(dir.path()), std::string::npos) << error;
  for (const char* bad : {"", "\n", "  \n\n", "two words", "tab\tinside",
                          "line\nbreak", "caf\xc3\xa9"}) {
    WriteFile(dir.Sub("t"), bad);
    error.clear();
    EXPECT_FALSE(TokenFile::Open(dir.Sub("t"), error)) << bad;
    EXPECT_NE(error.find(dir.Sub("t")), std::string::npos) << error;
  }
  WriteFile(dir.Sub("t"), std::string(5000, 'x'));
  EXPECT_FALSE(TokenFile::Open(dir.Sub("t"), error));
  // Trailing whitespace (echo's newline, CRLF) is not part of the token.
  WriteFile(dir.Sub("t"), "tok\r\n");
  auto file = TokenFile::Open(dir.Sub("t"), error);
  ASSERT_TRUE(file) << error;
  EXPECT_EQ(file->Current(), "tok");
  EXPECT_TRUE(file->Matches("tok"));
  EXPECT_FALSE(file->Matches("tok\r\n"));
  EXPECT_FALSE(file->Matches("to"));
  EXPECT_FALSE(file->Matches("tokk"));
  EXPECT_FALSE(file->Matches(""));
}

TEST_F(AuthTest, WritesNeedTheTokenAndRefusedWritesStoreNothing) {
  auto res = cli_->Put("/set/k", "v1", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer realm=\"mehdb\"");

  res = cli_->Put("/set/k", Bearer("wrong"), "v2", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_FALSE(res->has_header("WWW-Authenticate"));

  // Another scheme is no bearer token at all: 401, asking for one.
  res = cli_->Put("/set/k", {{"Authorization", "Basic dXNlcjpwYXNz"}}, "v3",
                  "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(server_.store().LastSeq(), 0u);  // nothing was written

  res = cli_->Put("/set/k", Bearer(kToken), "v4", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = cli_->Put("/set/k", {{"Authorization", std::string("bearer ") + kToken}},
                  "v5", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  EXPECT_EQ(Status("DELETE", "/set/k"), 401);
  EXPECT_EQ(Status("DELETE", "/set/k", Bearer("nope")), 403);
  auto got = cli_->Get("/get/k");  // reads are open by default
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "v5");
  EXPECT_EQ(Status("DELETE", "/set/k", Bearer(kToken)), 204);
  EXPECT_EQ(Status("GET", "/get/k"), 404);
}

TEST_F(AuthTest, ReadsAndProbesAreOpenByDefaultBackupIsNot) {
  EXPECT_EQ(Status("PUT", "/set/a", Bearer(kToken)), 200);
  for (const char* path : {"/get/a", "/keys", "/status", "/status?level=full",
                           "/replication", "/healthz", "/readyz", "/metrics"}) {
    EXPECT_EQ(Status("GET", path), 200) << path;
  }
  EXPECT_EQ(Status("HEAD", "/get/a"), 200);
  EXPECT_EQ(Status("GET", "/backup"), 401);
  EXPECT_EQ(Status("HEAD", "/backup"), 401);
  EXPECT_EQ(Status("GET", "/backup", Bearer("x")), 403);
  auto res = cli_->Get("/backup", Bearer(kToken));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_GT(res->body.size(), 0u);
  EXPECT_EQ(Status("GET", "/no/such/path"), 404);  // nothing to protect
}

TEST_F(ProtectedReadsTest, ReadsNeedTheTokenProbesAndMetricsDoNot) {
  EXPECT_EQ(Status("PUT", "/set/a", Bearer(kToken)), 200);
  for (const char* path :
       {"/get/a", "/keys", "/status", "/status?level=full", "/replication"}) {
    EXPECT_EQ(Status("GET", path), 401) << path;
    EXPECT_EQ(Status("GET", path, Bearer("wrong")), 403) << path;
    EXPECT_EQ(Status("GET", path, Bearer(kToken)), 200) << path;
  }
  EXPECT_EQ(Status("HEAD", "/get/a"), 401);
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    EXPECT_EQ(Status("GET", path), 200) << path;
    EXPECT_EQ(Status("GET", path, Bearer("wrong")), 200) << path;
  }
  EXPECT_EQ(Status("PUT", "/set/b"), 401);
}

TEST_F(AuthTest, RejectionsAreCountedByReasonInMetrics) {
  EXPECT_EQ(Status("PUT", "/set/a"), 401);
  EXPECT_EQ(Status("PUT", "/set/a"), 401);
  EXPECT_EQ(Status("PUT", "/set/a", Bearer("wrong")), 403);
  EXPECT_EQ(Status("PUT", "/set/a", Bearer(kToken)), 200);
  EXPECT_EQ(auth_.Rejected(Listener::kApi, AuthOutcome::kMissing), 2u);
  EXPECT_EQ(auth_.Rejected(Listener::kApi, AuthOutcome::kWrong), 1u);
  auto res = cli_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("# TYPE mehdb_auth_rejected_total counter"),
            std::string::npos);
  EXPECT_NE(res->body.find(
                "mehdb_auth_rejected_total{listener=\"api\",reason=\"missing\"} 2\n"),
            std::string::npos)
      << res->body;
  EXPECT_NE(res->body.find(
                "mehdb_auth_rejected_total{listener=\"api\",reason=\"wrong\"} 1\n"),
            std::string::npos);
  EXPECT_NE(res->body.find(
                "mehdb_http_requests_total{route=\"set\",code=\"401\"} 2\n"),
            std::string::npos);
}

TEST_F(AuthTest, RefusedBeforeTheBodyIsRead) {
  // Expect: 100-continue without a token: the answer is 401 and the body is
  // never asked for.
  const int fd = ConnectLoopback(server_.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "PUT /set/big HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Expect: 100-continue\r\n\r\n"));
  const std::string head = ReadUntil(fd, "\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 401", 0), 0u) << head;
  ::close(fd);
  // A body sent anyway is left unread and the connection closes, so its
  // bytes are never taken for a request.
  const std::string answer = RawExchange(
      server_.port(),
      "PUT /set/k HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\n\r\n"
      "GET /keys HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_EQ(server_.store().LastSeq(), 0u);
}

TEST_F(AuthTest, FollowerChecksTheTokenBeforeRedirecting) {
  // The same token file on a follower: unauthenticated writes get 401 there,
  // authenticated ones the usual 307 to the leader.
  TestServer follower(FollowerIdentity(server_.url()), {},
                      TestServer::QuickStore(), "", &auth_);
  auto cli = follower.Client();
  auto res = cli->Put("/set/k", "v", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_FALSE(res->has_header("Location"));
  res = cli->Put("/set/k", Bearer("wrong"), "v", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  res = cli->Put("/set/k", Bearer(kToken), "v", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 307);
  EXPECT_EQ(res->get_header_value("Location"), server_.url() + "/set/k");
}

TEST_F(AuthTest, RewrittenTokenFileTakesOverAndTheOldTokenIsRefused) {
  EXPECT_EQ(Status("PUT", "/set/a", Bearer(kToken)), 200);
  WriteFile(token_file_, "second-token\n");
  EXPECT_EQ(Status("PUT", "/set/a", Bearer(kToken)), 403);
  EXPECT_EQ(Status("PUT", "/set/a", Bearer("second-token")), 200);

  // Gone, empty or unreadable later: the last good token stays in force.
  std::filesystem::remove(token_file_);
  EXPECT_EQ(Status("PUT", "/set/a", Bearer("second-token")), 200);
  WriteFile(token_file_, "");
  EXPECT_EQ(Status("PUT", "/set/a", Bearer("second-token")), 200);
  EXPECT_EQ(Status("PUT", "/set/a"), 401);  // still closed, never open
  WriteFile(token_file_, "two words\n");
  EXPECT_EQ(Status("PUT", "/set/a", Bearer("second-token")), 200);
  WriteFile(token_file_, "third\n");
  EXPECT_EQ(Status("PUT", "/set/a", Bearer("second-token")), 403);
  EXPECT_EQ(Status("PUT", "/set/a", Bearer("third")), 200);
}

// The layout the kubelet gives a Secret volume: token -> ..data/token,
// ..data -> ..<timestamp>/, updated by writing a new timestamped directory
// and renaming a new ..data symlink over the old one (atomic).
TEST(AuthRotation, SecretVolumeSymlinkFlip) {
  TempDir dir;
  namespace fs = std::filesystem;
  fs::create_directory(dir.Sub("..2026_01_01_a"));
  WriteFile(dir.Sub("..2026_01_01_a/token"), "first\n");
  fs::create_directory_symlink("..2026_01_01_a", dir.Sub("..data"));
  fs::create_symlink("..data/token", dir.Sub("token"));

  auto token = OpenToken(dir.Sub("token"));
  Authenticator auth(*token, ReadPolicy::kOpen);
  TestServer server(LeaderIdentity(), {}, TestServer::QuickStore(), "", &auth);
  auto cli = server.Client();
  auto put = [&](const std::string& t) {
    auto res = cli->Put("/set/k", Bearer(t), "v", "text/plain");
    return res ? res->status : -1;
  };
  EXPECT_EQ(put("first"), 200);

  fs::create_directory(dir.Sub("..2026_01_02_b"));
  WriteFile(dir.Sub("..2026_01_02_b/token"), "second\n");
  fs::create_directory_symlink("..2026_01_02_b", dir.Sub("..data_tmp"));
  fs::rename(dir.Sub("..data_tmp"), dir.Sub("..data"));
  fs::remove_all(dir.Sub("..2026_01_01_a"));
  EXPECT_EQ(put("first"), 403);
  EXPECT_EQ(put("second"), 200);
}

// With the production recheck interval (1 s) a change is seen within a
// bounded time; the old token keeps working until then.
TEST(AuthRotation, DefaultRecheckPicksUpTheChange) {
  TempDir dir;
  WriteFile(dir.Sub("token"), "before\n");
  auto token = OpenToken(dir.Sub("token"), std::chrono::seconds(1));
  EXPECT_TRUE(token->Matches("before"));
  WriteFile(dir.Sub("token"), "after\n");
  bool switched = false;
  for (int i = 0; i < 100 && !switched; ++i) {
    switched = token->Matches("after");
    if (!switched) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(switched);
  EXPECT_FALSE(token->Matches("before"));
  EXPECT_EQ(token->Current(), "after");
}

TEST(AuthPeer, PeerListenerRequiresTheToken) {
  TempDir dir;
  WriteFile(dir.Sub("token"), std::string(kToken));
  auto token = OpenToken(dir.Sub("token"));
  Authenticator auth(*token, ReadPolicy::kOpen);
  auto stores = mehdbd::StoreHandle::Open(dir.Sub("data"), TestServer::QuickStore());
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  mehdbd::replication::AckTable acks;
  mehdbd::replication::PeerServer peers(**stores, acks, {});
  peers.SetAuth(&auth);
  std::string error;
  const int port = peers.Bind("127.0.0.1", 0, error);
  ASSERT_GT(port, 0) << error;
  peers.Start();

  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(10, 0);
  const httplib::Headers follower = {{"X-Mehdb-Follower", "mehdb-9"}};
  for (const char* path :
       {"/v1/replication/log?from=1&wait_ms=0", "/v1/replication/snapshot"}) {
    auto res = cli.Get(path, follower);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer realm=\"mehdb\"");
    httplib::Headers wrong = follower;
    wrong.emplace("Authorization", "Bearer wrong");
    res = cli.Get(path, wrong);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 403) << path;
    httplib::Headers right = follower;
    right.emplace("Authorization", std::string("Bearer ") + kToken);
    res = cli.Get(path, right);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
  }
  // A refused follower is never recorded as acknowledging anything.
  EXPECT_EQ(acks.Snapshot().size(), 1u);
  EXPECT_EQ(auth.Rejected(Listener::kPeer, AuthOutcome::kMissing), 2u);
  EXPECT_EQ(auth.Rejected(Listener::kPeer, AuthOutcome::kWrong), 2u);
  EXPECT_EQ(auth.Rejected(Listener::kApi, AuthOutcome::kMissing), 0u);
  peers.Stop();
}

}  // namespace
}  // namespace mehdb_test

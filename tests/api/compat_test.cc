// SPDX-License-Identifier: MIT
//
// The original mehdb API, row by row from ORIGINAL_API.md "Keep": what its
// clients (curl lines, probes, the original's followers) rely on, checked
// against an in-process server with default options, plus the exact
// original key rule where the two differ.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace mehdb_test {
namespace {

using mehdbd::KeyRule;
using mehdbd::http::ServerOptions;

class CompatTest : public ::testing::Test {
 protected:
  CompatTest()
      : server_(LeaderIdentity(), ServerOptions{}), cli_(server_.Client()) {}

  httplib::Result Put(const std::string& path, const std::string& body,
                      const char* type = "application/octet-stream") {
    return cli_->Put(path.c_str(), body, type);
  }

  TestServer server_;
  std::unique_ptr<httplib::Client> cli_;
};

TEST_F(CompatTest, PutAnswersWriteCompleted) {
  auto res = Put("/set/abc", "hello");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "WRITE completed");  // no newline
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");
}

TEST_F(CompatTest, BodyStoredVerbatimWhateverTheContentType) {
  for (const char* type :
       {"application/x-www-form-urlencoded", "application/json", "text/html",
        "multipart/form-data; boundary=x"}) {
    const std::string value = std::string("a=1&b=<i>") + type;
    ASSERT_EQ(Put("/set/abc", value, type)->status, 200);
    auto res = cli_->Get("/get/abc");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, value) << type;
  }
}

// Headers that would make a framework interpret the body (multipart
// parsing, decompression) change nothing: the bytes are the value.
TEST_F(CompatTest, BodyIsNeverDecodedOrDecompressed) {
  const std::string gzip_like("\x1f\x8b\x08\x00garbage", 12);
  auto res = cli_->Put("/set/gz", {{"Content-Encoding", "gzip"}}, gzip_like,
                       "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(cli_->Get("/get/gz")->body, gzip_like);
  const std::string form = "--x\r\nnot really multipart";
  ASSERT_EQ(Put("/set/form", form, "multipart/form-data; boundary=x")->status,
            200);
  EXPECT_EQ(cli_->Get("/get/form")->body, form);
}

TEST_F(CompatTest, EmptyBodyAndNoBodyStoreAnEmptyValue) {
  ASSERT_EQ(Put("/set/abc", "x")->status, 200);
  ASSERT_EQ(Put("/set/abc", "")->status, 200);  // Content-Length: 0
  auto res = cli_->Get("/get/abc");
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "");
  EXPECT_EQ(res->get_header_value("Content-Length"), "0");

  // `curl -X PUT` with no data sends neither Content-Length nor a body.
  ASSERT_EQ(Put("/set/def", "x")->status, 200);
  const std::string raw = RawExchange(
      server_.port(),
      "PUT /set/def HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("\r\n\r\nWRITE completed"), std::string::npos) << raw;
  EXPECT_EQ(cli_->Get("/get/def")->body, "");
}

TEST_F(CompatTest, BinaryAndOneMebibyteValuesRoundTrip) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  binary += std::string("\0\r\n\0", 4);
  ASSERT_EQ(Put("/set/bin", binary)->status, 200);
  EXPECT_EQ(cli_->Get("/get/bin")->body, binary);

  std::string big(std::size_t{1} << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 131 + 7);
  ASSERT_EQ(Put("/set/big", big)->status, 200);
  auto res = cli_->Get("/get/big");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body.size(), big.size());
  EXPECT_TRUE(res->body == big);
}

TEST_F(CompatTest, OverwriteReplacesTheWholeValue) {
  ASSERT_EQ(Put("/set/abc", "a long first value")->status, 200);
  ASSERT_EQ(Put("/set/abc", "short")->status, 200);
  EXPECT_EQ(cli_->Get("/get/abc")->body, "short");
}

TEST_F(CompatTest, MissingKeyIs404WithNewlineBody) {
  auto res = cli_->Get("/get/nothere");
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->body, "\n");
}

TEST_F(CompatTest, KeysIsSortedCompactJsonWithNewline) {
  EXPECT_EQ(cli_->Get("/keys")->body, "[]\n");
  for (const char* k : {"pear", "apple", "zoo", "b", "apples"}) {
    ASSERT_EQ(Put(std::string("/set/") + k, "v")->status, 200);
  }
  auto res = cli_->Get("/keys");
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "[\"apple\",\"apples\",\"b\",\"pear\",\"zoo\"]\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
}

TEST_F(CompatTest, StatusAnswersTheRoleOrTheCount) {
  auto res = cli_->Get("/status");
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "leader");
  EXPECT_EQ(cli_->Get("/status?level=full")->body, "0\n");
  ASSERT_EQ(Put("/set/abc", "v")->status, 200);
  ASSERT_EQ(Put("/set/def", "v")->status, 200);
  EXPECT_EQ(cli_->Get("/status?level=full")->body, "2\n");
  // level is case-sensitive; any other value answers the role.
  EXPECT_EQ(cli_->Get("/status?level=FULL")->body, "leader");
  EXPECT_EQ(cli_->Get("/status?level=")->body, "leader");
  EXPECT_EQ(cli_->Get("/status?x=1&level=full")->body, "2\n");
}

TEST_F(CompatTest, KeysAreMatchedOnThePercentDecodedPath) {
  ASSERT_EQ(Put("/set/%61bc", "decoded")->status, 200);
  EXPECT_EQ(cli_->Get("/get/abc")->body, "decoded");
  EXPECT_EQ(cli_->Get("/get/%61%62%63")->body, "decoded");
}

TEST_F(CompatTest, QueryStringIsIgnored) {
  ASSERT_EQ(Put("/set/abc?x=1&level=full", "q")->status, 200);
  EXPECT_EQ(cli_->Get("/get/abc?level=full")->body, "q");
  EXPECT_EQ(cli_->Get("/keys?foo=bar")->body, "[\"abc\"]\n");
}

TEST_F(CompatTest, A255CharacterKeyWorks) {
  const std::string key(255, 'k');
  ASSERT_EQ(Put("/set/" + key, "long")->status, 200);
  EXPECT_EQ(cli_->Get(("/get/" + key).c_str())->body, "long");
}

TEST_F(CompatTest, KnownPathWrongMethodIs405WithAllow) {
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  const Case cases[] = {
      {"POST", "/set/abc", "PUT, DELETE, OPTIONS"},
      {"GET", "/set/abc", "PUT, DELETE, OPTIONS"},
      {"PUT", "/get/abc", "GET, HEAD, OPTIONS"},
      {"DELETE", "/get/abc", "GET, HEAD, OPTIONS"},
      {"DELETE", "/keys", "GET, HEAD, OPTIONS"},
      {"PUT", "/status", "GET, HEAD, OPTIONS"},
      {"POST", "/keys", "GET, HEAD, OPTIONS"},
  };
  for (const Case& c : cases) {
    httplib::Request req;
    req.method = c.method;
    req.path = c.path;
    auto res = cli_->send(req);
    ASSERT_TRUE(res) << c.method << " " << c.path;
    EXPECT_EQ(res->status, 405) << c.method << " " << c.path;
    EXPECT_EQ(res->get_header_value("Allow"), c.allow)
        << c.method << " " << c.path;
  }
}

// Paths that were 404 whatever the key rule: no key, extra segments,
// unknown or non-canonical paths (the original even 301-redirected some).
TEST_F(CompatTest, StructurallyWrongPathsAre404) {
  for (const char* path :
       {"/set/", "/set", "/get/", "/get", "/set/abc/", "/get/abc/",
        "/set/abc/def", "/", "/foo", "/keys/", "/status/", "//keys",
        "/set/../set/abc", "/./keys", "/SET/abc"}) {
    for (const char* method : {"GET", "PUT", "POST", "DELETE"}) {
      httplib::Request req;
      req.method = method;
      req.path = path;
      auto res = cli_->send(req);
      ASSERT_TRUE(res) << method << " " << path;
      EXPECT_EQ(res->status, 404) << method << " " << path;
      EXPECT_EQ(res->body, "404 page not found\n") << method << " " << path;
    }
  }
  EXPECT_EQ(cli_->Get("/keys")->body, "[]\n");  // nothing was stored
}

// The exact original key rule: anything but [a-z]+ is a 404, with a wrong
// method too.
TEST(CompatOriginalKeyRule, AnythingButLowercaseLettersIs404) {
  ServerOptions options;
  options.key_rule = KeyRule::kOriginal;
  TestServer server(LeaderIdentity(), options);
  auto cli = server.Client();
  for (const char* key :
       {"abc1", "ABC", "a_b", "a-b", "a.b", "a%20b", "a%2Fb", "a~b", "%41"}) {
    for (const char* method : {"PUT", "GET", "POST"}) {
      for (const char* route : {"/set/", "/get/"}) {
        httplib::Request req;
        req.method = method;
        req.path = std::string(route) + key;
        auto res = cli->send(req);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 404) << method << " " << req.path;
        EXPECT_EQ(res->body, "404 page not found\n") << req.path;
      }
    }
  }
  EXPECT_EQ(cli->Put("/set/abc", "ok", "text/plain")->status, 200);
  EXPECT_EQ(cli->Get("/keys")->body, "[\"abc\"]\n");
}

TEST(CompatFollower, ValidPutIs307ToTheLeaderAndStoresNothing) {
  TestServer follower(
      FollowerIdentity("http://mehdb-0.mehdb.default.svc.cluster.local:9876"),
      ServerOptions{});
  auto cli = follower.Client();
  auto res = cli->Put("/set/abc", "value", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 307);
  EXPECT_EQ(res->body, "");
  EXPECT_EQ(res->get_header_value("Content-Length"), "0");
  EXPECT_EQ(res->get_header_value("Location"),
            "http://mehdb-0.mehdb.default.svc.cluster.local:9876/set/abc");
  EXPECT_EQ(cli->Get("/keys")->body, "[]\n");
  EXPECT_EQ(cli->Get("/status")->body, "follower");
  // An invalid path is still a 404 on a follower: routing comes first.
  EXPECT_EQ(cli->Put("/set/", "v", "text/plain")->status, 404);
}

// `curl -L -XPUT -T file`: the body is sent again to the leader.
TEST(CompatFollower, ClientsFollowingTheRedirectReachTheLeader) {
  TestServer leader(LeaderIdentity(), ServerOptions{});
  TestServer follower(FollowerIdentity(leader.url()), ServerOptions{});
  auto cli = follower.Client();
  cli->set_follow_location(true);
  auto res = cli->Put("/set/abc", "through the follower", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "WRITE completed");
  EXPECT_EQ(leader.Client()->Get("/get/abc")->body, "through the follower");
  EXPECT_EQ(follower.Client()->Get("/get/abc")->status, 404);  // no sync yet
}

}  // namespace
}  // namespace mehdb_test

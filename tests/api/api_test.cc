// SPDX-License-Identifier: MIT
//
// mehdbd's API beyond the original, part one: the fixes from
// ORIGINAL_API.md, bad keys, HEAD/OPTIONS, delete, sequence headers and
// conditional requests. Listings, min_seq, health and metrics are in
// reads_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "harness.h"

namespace mehdb_test {
namespace {

using mehdbd::KeyRule;
using mehdbd::http::ServerOptions;

class ApiTest : public LeaderTest {};

// ---- fixes ------------------------------------------------------------------

TEST_F(ApiTest, ValuesAreServedAsOpaqueBytesNeverSniffed) {
  ASSERT_EQ(PutStatus("page", "<html><script>alert(1)</script></html>"), 200);
  auto res = cli_->Get("/get/page");
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(ApiTest, ExtendedKeyRuleAcceptsUrlSafeKeys) {
  for (const char* key : {"abc1", "ABC", "a_b", "a-b", "a.b", "a~b",
                          "2024-01-01T10.00", "...", "%41%42"}) {
    EXPECT_EQ(PutStatus(key, key), 200) << key;
  }
  EXPECT_EQ(cli_->Get("/get/AB")->body, "%41%42");  // decoded before the rule
  EXPECT_EQ(
      cli_->Get("/keys")->body,
      "[\"...\",\"2024-01-01T10.00\",\"AB\",\"ABC\",\"a-b\",\"a.b\",\"a_b\","
      "\"abc1\",\"a~b\"]\n");
}

TEST_F(ApiTest, BadKeysAre400WithAReason) {
  for (const char* key :
       {"a%20b", "a%2Fb", "%00", "a+b%3F", "caf%C3%A9", ".", "..", "a%22b"}) {
    for (const char* method : {"PUT", "GET", "DELETE"}) {
      httplib::Request req;
      req.method = method;
      req.path =
          std::string(std::string(method) == "GET" ? "/get/" : "/set/") + key;
      auto res = cli_->send(req);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 400) << method << " " << req.path;
      EXPECT_NE(res->body.find("key"), std::string::npos) << res->body;
    }
  }
  EXPECT_EQ(cli_->Get("/get/%zz")->status, 400);  // malformed escape
  EXPECT_EQ(cli_->Get("/get/abc%4")->status, 400);
  EXPECT_EQ(cli_->Get("/keys")->body, "[]\n");
}

TEST_F(ApiTest, OverLongKeyIsAClientErrorWithoutServerPaths) {
  const std::string key(mehdb::kMaxKeyBytes + 1, 'k');
  for (KeyRule rule : {KeyRule::kExtended, KeyRule::kOriginal}) {
    ServerOptions options;
    options.key_rule = rule;
    TestServer server(LeaderIdentity(), options);
    auto res = server.Client()->Put(("/set/" + key).c_str(), "v", "text/plain");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(res->body.find('/'), std::string::npos) << res->body;
    EXPECT_NE(res->body.find("511"), std::string::npos) << res->body;
  }
  EXPECT_EQ(PutStatus(std::string(mehdb::kMaxKeyBytes, 'k'), "max"), 200);
}

TEST_F(ApiTest, HeadWorksWhereverGetDoes) {
  ASSERT_EQ(PutStatus("abc", "12345"), 200);
  for (const char* path : {"/get/abc", "/keys", "/status", "/status?level=full",
                           "/healthz", "/readyz", "/metrics"}) {
    auto get = cli_->Get(path);
    auto head = cli_->Head(path);
    ASSERT_TRUE(get && head) << path;
    EXPECT_EQ(head->status, 200) << path;
    EXPECT_EQ(head->body, "") << path;
    if (std::string(path) != "/metrics") {  // /metrics counts this very request
      EXPECT_EQ(head->get_header_value("Content-Length"),
                get->get_header_value("Content-Length"))
          << path;
    }
    EXPECT_EQ(head->get_header_value("Content-Type"),
              get->get_header_value("Content-Type"))
        << path;
  }
  EXPECT_EQ(cli_->Head("/get/missing")->status, 404);
  EXPECT_EQ(cli_->Head("/set/abc")->status, 405);
}

TEST_F(ApiTest, OptionsAnswersAllow) {
  httplib::Request req;
  req.method = "OPTIONS";
  req.path = "/set/abc";
  auto res = cli_->send(req);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->get_header_value("Allow"), "PUT, DELETE, OPTIONS");
  req.path = "/get/abc";
  EXPECT_EQ(cli_->send(req)->get_header_value("Allow"), "GET, HEAD, OPTIONS");
  req.path = "/nowhere";
  EXPECT_EQ(cli_->send(req)->status, 404);
}

// ---- delete
// -------------------------------------------------------------------

TEST_F(ApiTest, DeleteRemovesAKeyAndAnswersItsSeq) {
  ASSERT_EQ(PutStatus("abc", "v"), 200);
  auto del = cli_->Delete("/set/abc");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204);
  EXPECT_EQ(Seq(del), "2");
  EXPECT_EQ(cli_->Get("/get/abc")->status, 404);
  EXPECT_EQ(cli_->Get("/keys")->body, "[]\n");
  auto again = cli_->Delete("/set/abc");
  EXPECT_EQ(again->status, 404);
  EXPECT_EQ(again->get_header_value("X-Mehdb-Seq"), "");  // nothing written
  EXPECT_EQ(server_.store().LastSeq(), 2u);
}

// ---- sequence numbers and conditional requests
// ---------------------------------

TEST_F(ApiTest, WritesAnswerTheirSeqAndReadsTheAppliedSeq) {
  auto a = cli_->Put("/set/a", "1", "text/plain");
  auto b = cli_->Put("/set/b", "2", "text/plain");
  EXPECT_EQ(Seq(a), "1");
  EXPECT_EQ(Seq(b), "2");
  EXPECT_EQ(a->get_header_value("ETag"), "\"1\"");
  for (const char* path :
       {"/get/a", "/keys", "/status", "/status?level=full"}) {
    EXPECT_EQ(Seq(cli_->Get(path), "X-Mehdb-Applied-Seq"), "2") << path;
  }
  EXPECT_EQ(cli_->Get("/get/a")->get_header_value("ETag"), "\"1\"");
}

TEST_F(ApiTest, IfMatchMakesAWriteACompareAndSet) {
  ASSERT_EQ(PutStatus("k", "v1"), 200);  // version 1
  EXPECT_EQ(PutStatus("k", "lost", {{"If-Match", "\"7\""}}), 412);
  EXPECT_EQ(cli_->Get("/get/k")->body, "v1");
  auto ok = cli_->Put("/set/k", {{"If-Match", "\"1\""}}, "v2", "text/plain");
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->get_header_value("ETag"), "\"2\"");
  EXPECT_EQ(PutStatus("k", "stale", {{"If-Match", "\"1\""}}), 412);
  EXPECT_EQ(PutStatus("k", "any", {{"If-Match", "*"}}), 200);
  EXPECT_EQ(PutStatus("nokey", "x", {{"If-Match", "*"}}), 412);
  EXPECT_EQ(PutStatus("k", "weak", {{"If-Match", "W/\"3\""}}),
            412);  // strong only
  EXPECT_EQ(PutStatus("k", "foreign", {{"If-Match", "\"abc\""}}), 412);
  EXPECT_EQ(cli_->Get("/get/k")->body, "any");
  // A conditional PUT with a body that fails answers before reading it.
  EXPECT_EQ(PutStatus("k", std::string(100000, 'x'), {{"If-Match", "\"99\""}}),
            412);
}

TEST_F(ApiTest, IfNoneMatchStarCreatesOnlyIfAbsent) {
  EXPECT_EQ(PutStatus("k", "first", {{"If-None-Match", "*"}}), 200);
  EXPECT_EQ(PutStatus("k", "second", {{"If-None-Match", "*"}}), 412);
  EXPECT_EQ(cli_->Get("/get/k")->body, "first");
}

TEST_F(ApiTest, MalformedOrInexpressibleConditionsAre400) {
  EXPECT_EQ(PutStatus("k", "v", {{"If-Match", "7"}}), 400);  // unquoted
  EXPECT_EQ(PutStatus("k", "v", {{"If-Match", "\"1\", \"2\""}}), 400);
  EXPECT_EQ(PutStatus("k", "v", {{"If-None-Match", "\"1\""}}), 400);
  EXPECT_EQ(PutStatus("k", "v", {{"If-Match", "*"}, {"If-None-Match", "*"}}),
            400);
  EXPECT_EQ(cli_->Get("/get/k", {{"If-Match", "nope"}})->status, 400);
}

TEST_F(ApiTest, ConditionalReads) {
  ASSERT_EQ(PutStatus("k", "v"), 200);
  auto not_modified = cli_->Get("/get/k", {{"If-None-Match", "\"1\""}});
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_EQ(not_modified->body, "");
  EXPECT_EQ(not_modified->get_header_value("ETag"), "\"1\"");
  EXPECT_EQ(cli_->Get("/get/k", {{"If-None-Match", "W/\"1\", \"9\""}})->status,
            304);
  EXPECT_EQ(cli_->Get("/get/k", {{"If-None-Match", "\"2\""}})->status, 200);
  EXPECT_EQ(cli_->Get("/get/k", {{"If-Match", "\"2\""}})->status, 412);
  EXPECT_EQ(cli_->Get("/get/k", {{"If-Match", "\"1\""}})->status, 200);
  EXPECT_EQ(cli_->Get("/get/missing", {{"If-Match", "*"}})->status, 412);
}

TEST_F(ApiTest, ConditionalDelete) {
  ASSERT_EQ(PutStatus("k", "v"), 200);
  EXPECT_EQ(cli_->Delete("/set/k", {{"If-Match", "\"5\""}})->status, 412);
  EXPECT_EQ(cli_->Get("/get/k")->status, 200);
  EXPECT_EQ(cli_->Delete("/set/k", {{"If-Match", "\"1\""}})->status, 204);
  EXPECT_EQ(cli_->Get("/get/k")->status, 404);
}

}  // namespace
}  // namespace mehdb_test

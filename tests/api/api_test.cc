// SPDX-License-Identifier: MIT
//
// mehdbd's API beyond the original: the fixes from ORIGINAL_API.md and the
// extensions (delete, paging, HEAD/OPTIONS, conditional writes, sequence
// headers, min_seq), each route's failure answers, health and metrics.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <thread>

#include "harness.h"

namespace mehdb_test {
namespace {

using mehdbd::http::KeyRule;
using mehdbd::http::ServerOptions;

class ApiTest : public ::testing::Test {
 protected:
  explicit ApiTest(ServerOptions options = {})
      : server_(LeaderIdentity(), options), cli_(server_.Client()) {}

  int PutStatus(const std::string& key, const std::string& value,
                const httplib::Headers& headers = {}) {
    auto res = cli_->Put(("/set/" + key).c_str(), headers, value, "text/plain");
    return res ? res->status : -1;
  }
  std::string Seq(const httplib::Result& res, const char* header = "X-Mehdb-Seq") {
    return res ? res->get_header_value(header) : "";
  }

  TestServer server_;
  std::unique_ptr<httplib::Client> cli_;
};

// ---- fixes ------------------------------------------------------------------

TEST_F(ApiTest, ValuesAreServedAsOpaqueBytesNeverSniffed) {
  ASSERT_EQ(PutStatus("page", "<html><script>alert(1)</script></html>"), 200);
  auto res = cli_->Get("/get/page");
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(ApiTest, ExtendedKeyRuleAcceptsUrlSafeKeys) {
  for (const char* key : {"abc1", "ABC", "a_b", "a-b", "a.b", "a~b", "2024-01-01T10.00",
                          "...", "%41%42"}) {
    EXPECT_EQ(PutStatus(key, key), 200) << key;
  }
  EXPECT_EQ(cli_->Get("/get/AB")->body, "%41%42");  // decoded before the rule
  EXPECT_EQ(cli_->Get("/keys")->body,
            "[\"...\",\"2024-01-01T10.00\",\"AB\",\"ABC\",\"a-b\",\"a.b\",\"a_b\","
            "\"abc1\",\"a~b\"]\n");
}

TEST_F(ApiTest, BadKeysAre400WithAReason) {
  for (const char* key : {"a%20b", "a%2Fb", "%00", "a+b%3F", "caf%C3%A9", ".", "..",
                          "a%22b"}) {
    for (const char* method : {"PUT", "GET", "DELETE"}) {
      httplib::Request req;
      req.method = method;
      req.path = std::string(std::string(method) == "GET" ? "/get/" : "/set/") + key;
      auto res = cli_->send(req);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 400) << method << " " << req.path;
      EXPECT_NE(res->body.find("key"), std::string::npos) << res->body;
    }
  }
  EXPECT_EQ(cli_->Get("/get/%zz")->status, 400);   // malformed escape
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
                get->get_header_value("Content-Length")) << path;
    }
    EXPECT_EQ(head->get_header_value("Content-Type"),
              get->get_header_value("Content-Type")) << path;
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

// ---- delete -------------------------------------------------------------------

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

// ---- sequence numbers and conditional requests ---------------------------------

TEST_F(ApiTest, WritesAnswerTheirSeqAndReadsTheAppliedSeq) {
  auto a = cli_->Put("/set/a", "1", "text/plain");
  auto b = cli_->Put("/set/b", "2", "text/plain");
  EXPECT_EQ(Seq(a), "1");
  EXPECT_EQ(Seq(b), "2");
  EXPECT_EQ(a->get_header_value("ETag"), "\"1\"");
  for (const char* path : {"/get/a", "/keys", "/status", "/status?level=full"}) {
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
  EXPECT_EQ(PutStatus("k", "weak", {{"If-Match", "W/\"3\""}}), 412);  // strong only
  EXPECT_EQ(PutStatus("k", "foreign", {{"If-Match", "\"abc\""}}), 412);
  EXPECT_EQ(cli_->Get("/get/k")->body, "any");
  // A conditional PUT with a body that fails answers before reading it.
  EXPECT_EQ(PutStatus("k", std::string(100000, 'x'), {{"If-Match", "\"99\""}}), 412);
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
  EXPECT_EQ(PutStatus("k", "v", {{"If-Match", "*"}, {"If-None-Match", "*"}}), 400);
  EXPECT_EQ(cli_->Get("/get/k", {{"If-Match", "nope"}})->status, 400);
}

TEST_F(ApiTest, ConditionalReads) {
  ASSERT_EQ(PutStatus("k", "v"), 200);
  auto not_modified = cli_->Get("/get/k", {{"If-None-Match", "\"1\""}});
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_EQ(not_modified->body, "");
  EXPECT_EQ(not_modified->get_header_value("ETag"), "\"1\"");
  EXPECT_EQ(cli_->Get("/get/k", {{"If-None-Match", "W/\"1\", \"9\""}})->status, 304);
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

// ---- paging -------------------------------------------------------------------

TEST_F(ApiTest, KeysPagesWithPrefixAfterAndLimit) {
  for (const char* k : {"a1", "b1", "b2", "b3", "b4", "c1"}) ASSERT_EQ(PutStatus(k, "v"), 200);
  auto page = cli_->Get("/keys?prefix=b&limit=2");
  EXPECT_EQ(page->body, "[\"b1\",\"b2\"]\n");
  EXPECT_EQ(page->get_header_value("Link"), "</keys?prefix=b&after=b2&limit=2>; rel=\"next\"");
  page = cli_->Get("/keys?prefix=b&after=b2&limit=2");
  EXPECT_EQ(page->body, "[\"b3\",\"b4\"]\n");
  EXPECT_EQ(page->get_header_value("Link"), "");  // the last page
  EXPECT_EQ(cli_->Get("/keys?prefix=b")->body, "[\"b1\",\"b2\",\"b3\",\"b4\"]\n");
  EXPECT_EQ(cli_->Get("/keys?after=b3")->body, "[\"b4\",\"c1\"]\n");
  EXPECT_EQ(cli_->Get("/keys?prefix=zz&limit=5")->body, "[]\n");
  EXPECT_EQ(cli_->Get("/keys?limit=10")->body, cli_->Get("/keys")->body);
  for (const char* bad : {"0", "-1", "abc", "10001", "1.5", ""}) {
    auto res = cli_->Get(("/keys?limit=" + std::string(bad)).c_str());
    EXPECT_EQ(res->status, 400) << bad;
    EXPECT_NE(res->body.find("limit"), std::string::npos);
  }
}

TEST(ApiStreaming, BigListingsStreamTheSameBytes) {
  ServerOptions options;
  options.list_buffer_keys = 3;  // stream anything above three keys
  TestServer server(LeaderIdentity(), options);
  auto cli = server.Client();
  std::string expected = "[";
  mehdb::Batch batch;
  for (int i = 0; i < 9000; ++i) {  // more than two stream pages
    char key[16];
    std::snprintf(key, sizeof key, "k%05d", i);
    batch.Put(key, "v");
    expected += std::string(i ? "," : "") + "\"" + key + "\"";
  }
  expected += "]\n";
  ASSERT_TRUE(server.store().Write(batch).ok());
  auto res = cli->Get("/keys");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Transfer-Encoding"), "chunked");
  EXPECT_TRUE(res->body == expected);
  EXPECT_EQ(cli->Get("/keys?prefix=k0001")->body.size(), 10 * 9 - 1 + 3);
}

// ---- read-your-writes -----------------------------------------------------------

TEST_F(ApiTest, MinSeqReadsWaitForTheWrite) {
  ASSERT_EQ(PutStatus("k", "v1"), 200);
  EXPECT_EQ(cli_->Get("/get/k?min_seq=1")->status, 200);
  EXPECT_EQ(cli_->Get("/get/k", {{"X-Mehdb-Min-Seq", "1"}})->status, 200);
  EXPECT_EQ(cli_->Get("/get/k?min_seq=x")->status, 400);
  EXPECT_EQ(cli_->Get("/get/k", {{"X-Mehdb-Min-Seq", "-1"}})->status, 400);
}

TEST(ApiMinSeq, LeaderAnswers503WhenTheSeqNeverComes) {
  ServerOptions options;
  options.max_seq_wait = std::chrono::milliseconds(50);
  TestServer server(LeaderIdentity(), options);
  auto res = server.Client()->Get("/get/k?min_seq=5");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(res->get_header_value("X-Mehdb-Applied-Seq"), "0");
  EXPECT_EQ(server.Client()->Get("/status?min_seq=5")->status, 503);
}

TEST(ApiMinSeq, AWaitingReadSeesAWriteThatArrives) {
  ServerOptions options;
  options.max_seq_wait = std::chrono::seconds(30);
  TestServer server(LeaderIdentity(), options);
  httplib::Result read{nullptr, httplib::Error::Unknown};
  std::thread reader([&] { read = server.Client()->Get("/get/k?min_seq=1"); });
  ASSERT_EQ(server.Client()->Put("/set/k", "arrived", "text/plain")->status, 200);
  reader.join();
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
  EXPECT_EQ(read->body, "arrived");
}

TEST(ApiMinSeq, FollowerRedirectsReadsItCannotServeYet) {
  ServerOptions options;
  options.max_seq_wait = std::chrono::milliseconds(20);
  TestServer follower(FollowerIdentity("http://leader.example:9876"), options);
  // Raw, since httplib::Client rewrites escapes in the query.
  const std::string raw = RawExchange(
      follower.port(), "GET /get/k?min_seq=3&x=%20 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 307 ", 0), 0u) << raw;
  EXPECT_NE(raw.find("\r\nLocation: http://leader.example:9876/get/k?min_seq=3&x=%20\r\n"),
            std::string::npos) << raw;
  EXPECT_EQ(follower.Client()->Get("/get/k")->status, 404);  // no min_seq: served here
}

TEST(ApiFollower, AllWritesRedirectAndReadsAreServed) {
  TestServer follower(FollowerIdentity("http://leader.example:9876"), ServerOptions{});
  ASSERT_TRUE(follower.store().Put("here", "local").ok());
  auto cli = follower.Client();
  auto del = cli->Delete("/set/here");
  EXPECT_EQ(del->status, 307);
  EXPECT_EQ(del->get_header_value("Location"), "http://leader.example:9876/set/here");
  EXPECT_EQ(cli->Put("/set/%41b?x=1", "v", "text/plain")->get_header_value("Location"),
            "http://leader.example:9876/set/Ab?x=1");
  EXPECT_EQ(cli->Get("/get/here")->body, "local");
  EXPECT_EQ(cli->Get("/status")->body, "follower");
  EXPECT_EQ(cli->Get("/set/here")->status, 405);
}

// ---- health and metrics -------------------------------------------------------

TEST_F(ApiTest, HealthAndReadiness) {
  auto h = cli_->Get("/healthz");
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok\n");
  auto r = cli_->Get("/readyz");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ready\n");
}

TEST_F(ApiTest, MetricsArePrometheusText) {
  // One connection: the server records a request's metrics after writing
  // its answer, and only a single connection orders that before the next
  // request.
  cli_->set_keep_alive(true);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(PutStatus("k" + std::to_string(i), "v"), 200);
  ASSERT_EQ(cli_->Get("/get/missing")->status, 404);
  auto res = cli_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = res->body;
  for (const char* line : {
           "mehdb_http_requests_total{route=\"set\",code=\"200\"} 3\n",
           "mehdb_http_requests_total{route=\"get\",code=\"404\"} 1\n",
           "mehdb_store_entries 3\n", "mehdb_store_last_seq 3\n",
           "mehdb_http_request_duration_seconds_count{route=\"set\"} 3\n",
           "mehdb_store_group_commit_size_bucket{le=\"+Inf\"} ",
           "mehdb_store_group_commit_size_sum 3\n", "mehdb_role{role=\"leader\"} 1\n",
           "# TYPE mehdb_http_request_duration_seconds histogram\n"}) {
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
  }
  const std::regex sample(R"(^mehdb_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$)");
  std::size_t start = 0;
  while (start < m.size()) {
    const std::size_t end = m.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the text must end with a newline";
    const std::string line = m.substr(start, end - start);
    if (line.rfind("# ", 0) != 0) {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
    }
    start = end + 1;
  }
  EXPECT_EQ(server_.server().metrics().Count(mehdbd::http::Route::kSet, 200), 3u);
}

}  // namespace
}  // namespace mehdb_test

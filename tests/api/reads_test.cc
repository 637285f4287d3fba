// SPDX-License-Identifier: MIT
//
// mehdbd's API beyond the original, part two: key listings with paging and
// streaming, read-your-writes with min_seq (leader and follower), a
// follower's answers, health, readiness and Prometheus metrics.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "harness.h"

namespace mehdb_test {
namespace {

using mehdbd::http::ServerOptions;

class ReadsTest : public LeaderTest {};

// ---- paging
// -------------------------------------------------------------------

TEST_F(ReadsTest, KeysPagesWithPrefixAfterAndLimit) {
  for (const char* k : {"a1", "b1", "b2", "b3", "b4", "c1"})
    ASSERT_EQ(PutStatus(k, "v"), 200);
  auto page = cli_->Get("/keys?prefix=b&limit=2");
  EXPECT_EQ(page->body, "[\"b1\",\"b2\"]\n");
  EXPECT_EQ(page->get_header_value("Link"),
            "</keys?prefix=b&after=b2&limit=2>; rel=\"next\"");
  page = cli_->Get("/keys?prefix=b&after=b2&limit=2");
  EXPECT_EQ(page->body, "[\"b3\",\"b4\"]\n");
  EXPECT_EQ(page->get_header_value("Link"), "");  // the last page
  EXPECT_EQ(cli_->Get("/keys?prefix=b")->body,
            "[\"b1\",\"b2\",\"b3\",\"b4\"]\n");
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

// ---- read-your-writes
// -----------------------------------------------------------

TEST_F(ReadsTest, MinSeqReadsWaitForTheWrite) {
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

// The read is parked (waiting for seq 1) before the write is sent, so the
// write is what wakes it: the waiting path, not a read after the write.
TEST(ApiMinSeq, AWaitingReadSeesAWriteThatArrives) {
  ServerOptions options;
  options.max_seq_wait = std::chrono::seconds(30);
  TestServer server(LeaderIdentity(), options);
  const int reader = ConnectLoopback(server.port());
  ASSERT_TRUE(SendAll(reader, "GET /get/k?min_seq=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server.server().api().ParkedReads() == 0 && std::chrono::steady_clock::now() < limit)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(server.server().api().ParkedReads(), 1u)
      << "the read was answered without waiting: "
      << ReadUntil(reader, "\r\n\r\n", std::chrono::milliseconds(100));
  ASSERT_EQ(server.Client()->Put("/set/k", "arrived", "text/plain")->status, 200);
  const std::string answer = ReadUntil(reader, "arrived", std::chrono::seconds(10));
  ::close(reader);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("\r\n\r\narrived"), std::string::npos) << answer;
}

TEST(ApiMinSeq, FollowerRedirectsReadsItCannotServeYet) {
  ServerOptions options;
  options.max_seq_wait = std::chrono::milliseconds(20);
  TestServer follower(FollowerIdentity("http://leader.example:9876"), options);
  // Raw, since httplib::Client rewrites escapes in the query.
  const std::string raw =
      RawExchange(follower.port(),
                  "GET /get/k?min_seq=3&x=%20 HTTP/1.1\r\nHost: "
                  "x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 307 ", 0), 0u) << raw;
  EXPECT_NE(
      raw.find(
          "\r\nLocation: http://leader.example:9876/get/k?min_seq=3&x=%20\r\n"),
      std::string::npos)
      << raw;
  EXPECT_EQ(follower.Client()->Get("/get/k")->status,
            404);  // no min_seq: served here
}

TEST(ApiFollower, AllWritesRedirectAndReadsAreServed) {
  TestServer follower(FollowerIdentity("http://leader.example:9876"),
                      ServerOptions{});
  ASSERT_TRUE(follower.store().Put("here", "local").ok());
  auto cli = follower.Client();
  auto del = cli->Delete("/set/here");
  EXPECT_EQ(del->status, 307);
  EXPECT_EQ(del->get_header_value("Location"),
            "http://leader.example:9876/set/here");
  EXPECT_EQ(cli->Put("/set/%41b?x=1", "v", "text/plain")
                ->get_header_value("Location"),
            "http://leader.example:9876/set/Ab?x=1");
  EXPECT_EQ(cli->Get("/get/here")->body, "local");
  EXPECT_EQ(cli->Get("/status")->body, "follower");
  EXPECT_EQ(cli->Get("/set/here")->status, 405);
}

// ---- health and metrics
// -------------------------------------------------------

// name{label="value",...} number  (Prometheus text format; no std::regex,
// which draws false -Wmaybe-uninitialized warnings from GCC 12 under ASan).
bool IsSampleLine(const std::string& line) {
  std::size_t i = 0;
  auto name_char = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
  // Ours, and the conventional process_* family (http/process_metrics.h).
  if (line.rfind("mehdb_", 0) != 0 && line.rfind("process_", 0) != 0) return false;
  while (i < line.size() && name_char(line[i])) ++i;
  if (i < line.size() && line[i] == '{') {
    do {
      ++i;
      const std::size_t label = i;
      while (i < line.size() && name_char(line[i])) ++i;
      if (i == label || line.compare(i, 2, "=\"") != 0) return false;
      i = line.find('"', i + 2);
      if (i == std::string::npos) return false;
      ++i;
    } while (i < line.size() && line[i] == ',');
    if (i >= line.size() || line[i] != '}') return false;
    ++i;
  }
  if (i >= line.size() || line[i] != ' ') return false;
  const std::string number = line.substr(i + 1);
  char* end = nullptr;
  std::strtod(number.c_str(), &end);
  return !number.empty() && end == number.c_str() + number.size();
}

TEST_F(ReadsTest, HealthAndReadiness) {
  auto h = cli_->Get("/healthz");
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok\n");
  auto r = cli_->Get("/readyz");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ready\n");
}

TEST_F(ReadsTest, MetricsArePrometheusText) {
  // One connection: the server records a request's metrics after writing
  // its answer, and only a single connection orders that before the next
  // request.
  cli_->set_keep_alive(true);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(PutStatus("k" + std::to_string(i), "v"), 200);
  ASSERT_EQ(cli_->Get("/get/missing")->status, 404);
  auto res = cli_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = res->body;
  for (const char* line :
       {"mehdb_http_requests_total{route=\"set\",code=\"200\"} 3\n",
        "mehdb_http_requests_total{route=\"get\",code=\"404\"} 1\n",
        "mehdb_store_entries 3\n", "mehdb_store_last_seq 3\n",
        "# TYPE mehdb_store_applier_lag_seqs gauge\n",
        "# TYPE mehdb_store_applier_lag_bytes gauge\n", "mehdb_store_wal_bytes ",
        "mehdb_http_request_duration_seconds_count{route=\"set\"} 3\n",
        "mehdb_store_group_commit_size_bucket{le=\"+Inf\"} ",
        "mehdb_store_group_commit_size_sum 3\n",
        "mehdb_role{role=\"leader\"} 1\n",
        "# TYPE mehdb_http_request_duration_seconds histogram\n"}) {
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
  }
  std::size_t start = 0;
  while (start < m.size()) {
    const std::size_t end = m.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the text must end with a newline";
    const std::string line = m.substr(start, end - start);
    if (line.rfind("# ", 0) != 0) {
      EXPECT_TRUE(IsSampleLine(line)) << line;
    }
    start = end + 1;
  }
  EXPECT_EQ(server_.server().metrics().Count(mehdbd::http::Route::kSet, 200),
            3u);
}

}  // namespace
}  // namespace mehdb_test

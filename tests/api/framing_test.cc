// SPDX-License-Identifier: MIT
//
// Strict framing (RFC 9112) through a real server on loopback: a request
// the server cannot frame with certainty gets one 400/501/505 answer with
// Connection: close, and nothing after it on the connection is read. Each
// case carries a second request (a PUT of key "smuggled") inside what a
// lenient parser would take as the first request's end; the test checks
// the answer and that the smuggled write never happened. Range requests
// get the whole value (no partial 200, no multi-range amplification).
#include <sys/socket.h>

#include <string>

#include "harness.h"

namespace mehdb_test {
namespace {

using mehdbd::http::ServerOptions;

const std::string kSmuggled =
    "PUT /set/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nevil";

struct Case {
  const char* name;
  std::string request;  // kSmuggled follows it on the same connection
  int status;           // the one answer expected
};

std::string Len(const std::string& s) { return std::to_string(s.size()); }

// What follows the first answer (by its Content-Length) in `bytes`, less
// RawExchange's "<closed>" marker: empty when there was only one answer.
std::string AfterFirstAnswer(const std::string& bytes) {
  const std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) return bytes;
  const std::size_t cl = bytes.find("Content-Length: ");
  if (cl == std::string::npos || cl > end) return bytes.substr(end + 4);
  const std::size_t length = std::stoul(bytes.substr(cl + 16));
  std::string rest = bytes.substr(std::min(bytes.size(), end + 4 + length));
  if (rest.ends_with("<closed>")) rest.resize(rest.size() - 8);
  return rest;
}

class Framing : public LeaderTest {
 protected:
  bool Smuggled() {
    auto got = server_.store().Get("smuggled");
    return got.ok() && got->has_value();
  }
};

TEST_F(Framing, UnframeableRequestsGetOneAnswerAndClose) {
  const std::vector<Case> cases = {
      {"unknown method with a body", "PROPFIND /keys HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                         Len(kSmuggled) + "\r\n\r\n", 405},
      {"lower-case method", "get /keys HTTP/1.1\r\nHost: x\r\nContent-Length: " + Len(kSmuggled) +
                                "\r\n\r\n", 400},
      {"HTTP/1.2", "GET /keys HTTP/1.2\r\nHost: x\r\nContent-Length: " + Len(kSmuggled) +
                       "\r\n\r\n", 505},
      {"HTTP/2.0", "GET /keys HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"malformed version", "GET /keys HTTX/1.1\r\nHost: x\r\n\r\n", 400},
      {"Content-Length with Transfer-Encoding",
       "PUT /set/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n", 400},
      {"two different Content-Lengths",
       "PUT /set/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: " +
           Len(kSmuggled) + "\r\n\r\n", 400},
      {"space before the colon",
       "PUT /set/a HTTP/1.1\r\nHost: x\r\nContent-Length : " + Len(kSmuggled) + "\r\n\r\n", 400},
      {"Content-Length not a number",
       "PUT /set/a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400},
      {"obs-fold", "GET /keys HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400},
      {"bare LF", "GET /keys HTTP/1.1\nHost: x\n\n", 400},
      {"bare CR", "GET /keys HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n", 400},
      {"HTTP/1.1 without Host", "GET /keys HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET /keys HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
      {"Transfer-Encoding gzip", "PUT /set/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
       501},
      {"Transfer-Encoding twice",
       "PUT /set/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n", 501},
      {"absolute-form target", "GET http://x/keys HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"control character in a value", std::string("GET /keys HTTP/1.1\r\nHost: x\r\nX-A: a") +
                                           '\x01' + "\r\n\r\n", 400},
      {"malformed chunk size",
       "PUT /set/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"an early answer: 413 from Content-Length",
       "PUT /set/a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string answer = RawExchange(server_.port(), c.request + kSmuggled,
                                           std::chrono::milliseconds(3000));
    const std::string status_line = "HTTP/1.1 " + std::to_string(c.status) + " ";
    EXPECT_EQ(answer.rfind(status_line, 0), 0u) << answer.substr(0, 300);
    // One answer, and it says the connection closes.
    EXPECT_EQ(AfterFirstAnswer(answer), "") << answer;
    EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos) << answer;
    EXPECT_FALSE(Smuggled());
  }
}

// A well-framed body is consumed by its own framing, so what follows it is
// the next request: here the smuggled PUT is a legitimate pipelined one.
TEST_F(Framing, AWellFramedBodyEndsWhereItSays) {
  const std::string answer = RawExchange(
      server_.port(),
      "PUT /set/first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n" + kSmuggled,
      std::chrono::milliseconds(1000));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("HTTP/1.1 200 ", 10), std::string::npos) << answer;
  auto first = server_.store().Get("first");
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->data, "abc");
  EXPECT_TRUE(Smuggled());
}

// A DELETE's body (it has no meaning) is read by its framing and dropped:
// the connection stays usable, and what follows is the next request.
TEST_F(Framing, ADeleteBodyIsReadAndDropped) {
  ASSERT_EQ(PutStatus("first", "v"), 200);
  const std::string answer = RawExchange(
      server_.port(),
      "DELETE /set/first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + kSmuggled,
      std::chrono::milliseconds(1000));
  EXPECT_EQ(answer.rfind("HTTP/1.1 204 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("HTTP/1.1 200 ", 10), std::string::npos) << answer;
  auto first = server_.store().Get("first");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  EXPECT_TRUE(Smuggled());
}

TEST_F(Framing, RangeGetsTheWholeValue) {
  const std::string value(4 << 20, 'v');
  ASSERT_EQ(PutStatus("big", value), 200);
  auto part = cli_->Get("/get/big", {{"Range", "bytes=1-2"}});
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 200);
  EXPECT_EQ(part->body.size(), value.size());
  EXPECT_FALSE(part->has_header("Content-Range"));
  // 100 overlapping ranges: one copy of the value, not a hundred.
  std::string ranges = "bytes=0-";
  for (int i = 1; i < 100; ++i) ranges += ",0-";
  const std::string answer = RawExchange(
      server_.port(), "GET /get/big HTTP/1.1\r\nHost: x\r\nRange: " + ranges +
                          "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u);
  EXPECT_LT(answer.size(), value.size() + 1024);
  auto keys = cli_->Get("/keys", {{"Range", "bytes=0-1"}});
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->status, 200);
  EXPECT_EQ(keys->body, "[\"big\"]\n");
}

// An answer sent before the body was read (here a 404 for a PUT with a
// body) closes the connection: the body's bytes, whatever they look like,
// are never parsed as a request.
TEST_F(Framing, AnEarlyAnswerNeverReadsTheBodyAsARequest) {
  const std::string answer = RawExchange(
      server_.port(), "PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: " + Len(kSmuggled) +
                          "\r\n\r\n" + kSmuggled,
      std::chrono::milliseconds(3000));
  EXPECT_EQ(answer.rfind("HTTP/1.1 404 ", 0), 0u) << answer;
  EXPECT_EQ(AfterFirstAnswer(answer), "") << answer;
  EXPECT_FALSE(Smuggled());
}

// The 400 for an unframeable request carries one Connection header and no
// Keep-Alive.
TEST_F(Framing, ACloseAnswerSaysCloseOnce) {
  const std::string answer =
      RawExchange(server_.port(), "GET /keys HTTP/1.1\r\n\r\n", std::chrono::milliseconds(2000));
  EXPECT_EQ(answer.find("Connection:"), answer.rfind("Connection:")) << answer;
  EXPECT_EQ(answer.find("Keep-Alive"), std::string::npos) << answer;
}

}  // namespace
}  // namespace mehdb_test

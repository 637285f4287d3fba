// SPDX-License-Identifier: MIT
//
// A follower facing a broken leader: this test stands in for mehdb-0's peer
// port and answers log polls with garbage, a gap, a duplicate batch, a
// foreign history and a cut stream. The follower must apply nothing of any
// of them, keep serving reads, and catch up once the real leader returns.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <httplib.h>
#include <mehdb/replication.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "pod.h"

namespace mehdb::cluster {
namespace {

std::string Records(Seq from, Seq to, const std::string& value) {
  std::string out;
  for (Seq s = from; s <= to; ++s)
    EncodeLogRecord(LogRecord{s, 1, {{LogOp::Kind::kPut, "evil" + std::to_string(s), value}}}, out);
  return out;
}

TEST(FakePeer, BrokenAnswersApplyNothingAndTheFollowerRecovers) {
  char tmpl[] = "/tmp/mehdb-fakepeer-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string workdir = tmpl;
  Ports ports = Ports::ForThisProcess();
  ports.base_octet += 7;  // apart from the Cluster suite's pods
  Pod leader(workdir, 0, ports), follower(workdir, 1, ports);
  leader.Start();
  follower.Start();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(leader.Put("k" + std::to_string(i), "good"), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Contents() == leader.Contents(); }));
  const auto before = follower.Contents();
  const auto history = nlohmann::json::parse(leader.ReplicationJson())["history"].get<std::string>();
  const Seq applied = static_cast<Seq>(JsonNumber(follower.ReplicationJson(), "applied_seq"));
  ASSERT_EQ(applied, 20u);
  leader.Kill();

  // The impostor on the leader's address and peer port.
  std::atomic<int> mode{0}, polls{0};
  httplib::Server fake;
  fake.Get("/v1/replication/log", [&](const httplib::Request& req, httplib::Response& res) {
    ++polls;
    const Seq from = std::stoull(req.get_param_value("from"));
    res.set_header("X-Mehdb-History", history);
    res.set_header("X-Mehdb-First-Seq", "1");
    res.set_header("X-Mehdb-Last-Seq", std::to_string(from + 5));
    auto answer = [&](Seq a, Seq b, std::string body) {
      res.set_header("X-Mehdb-From", std::to_string(a));
      res.set_header("X-Mehdb-To", std::to_string(b));
      res.set_content(std::move(body), "application/octet-stream");
    };
    switch (mode.load()) {
      case 0:  // garbage
        return answer(from, from + 1, "this is not a log batch at all");
      case 1: {  // a gap: records from+1.. announced as from..
        return answer(from, from + 2, Records(from + 1, from + 3, "gap"));
      }
      case 2:  // a duplicate of what the follower has
        return answer(from - 1, from, Records(from - 1, from, "dup"));
      case 3: {  // a flipped bit in a valid batch
        std::string body = Records(from, from + 2, "flip");
        body[body.size() / 2] ^= 0x20;
        return answer(from, from + 2, body);
      }
      case 4: {  // a valid batch cut short: the connection drops mid-body
        const std::string body = Records(from, from + 50, std::string(200, 'c'));
        res.set_header("X-Mehdb-From", std::to_string(from));
        res.set_header("X-Mehdb-To", std::to_string(from + 50));
        res.set_content_provider(body.size(), "application/octet-stream",
                                 [body](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                   if (offset > 0) return false;  // hang up halfway
                                   sink.write(body.data(), body.size() / 2);
                                   return true;
                                 });
        return;
      }
      default:  // another history
        res.headers.erase("X-Mehdb-History");
        res.set_header("X-Mehdb-History", HistoryId::Random().ToHex());
        return answer(from, from, Records(from, from, "foreign"));
    }
  });
  // SO_REUSEADDR, as mehdbd's listeners use: the killed leader's peer
  // connections sit in TIME_WAIT on this port. (cpp-httplib's default,
  // SO_REUSEPORT alone, does not match them.)
  fake.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  ASSERT_TRUE(fake.bind_to_port(leader.address().c_str(), ports.peer));
  std::thread serving([&] { fake.listen_after_bind(); });

  for (int m = 0; m <= 5; ++m) {
    const int seen = polls.load();
    mode = m;
    // Let the follower try this answer a few times (it backs off between).
    ASSERT_TRUE(WaitUntil([&] { return polls.load() >= seen + 2; }, std::chrono::seconds(30)))
        << "mode " << m << ": the follower stopped polling";
    EXPECT_EQ(follower.Contents(), before) << "mode " << m << " changed the follower";
    EXPECT_EQ(JsonNumber(follower.ReplicationJson(), "applied_seq"), 20) << "mode " << m;
  }
  EXPECT_GT(JsonNumber(follower.ReplicationJson(), "peer_errors"), 5);
  EXPECT_EQ(follower.Get("k3"), "good");  // reads never stopped
  fake.stop();
  serving.join();

  // The real leader returns: the follower resumes and converges.
  leader.Start();
  ASSERT_EQ(leader.Put("back", "again"), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Contents() == leader.Contents(); }))
      << follower.ReplicationJson();
  EXPECT_EQ(JsonNumber(follower.ReplicationJson(), "snapshots"), 1);  // only the first bootstrap
  leader.Kill();
  follower.Kill();
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(workdir);
}

}  // namespace
}  // namespace mehdb::cluster

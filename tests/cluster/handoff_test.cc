// SPDX-License-Identifier: MIT
//
// Graceful hand-off with real processes: on SIGTERM a pod fails /readyz at
// once, keeps answering for --drain-delay, then stops without waiting on
// its followers' long-polls; followers log no error for an orderly leader
// shutdown and stream on from their seq when it is back. The `mehdb` CLI
// rides a leader restart out (--retry-for): refused connections and 503s
// with Retry-After are tried again, within the bound and no longer.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "pod.h"
#include "pod_fixture.h"

namespace mehdb::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

class HandOff : public PodFixture {
 protected:
  // Runs `mehdb ARGS` against `url` in the background; its exit code.
  static std::future<int> Cli(const std::string& url, const std::string& args) {
    const char* cli = std::getenv("MEHDB_CLI");
    if (cli == nullptr) ADD_FAILURE() << "MEHDB_CLI is not set";
    const std::string command = std::string(cli ? cli : "false") + " --url " + url + " " + args +
                                " >/dev/null 2>&1";
    return std::async(std::launch::async, [command] {
      const int status = std::system(command.c_str());
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    });
  }
};

TEST_F(HandOff, SigtermFailsReadinessAtOnceServesForTheDrainDelayThenStops) {
  Pod& leader = AddPod({"--drain-delay=2s"});
  leader.Start();
  // Long polls: the leader must not wait for them to end.
  Pod& follower = AddPod({"--poll-wait=20s"});
  follower.Start();
  ASSERT_EQ(leader.Put("k", "v"), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Get("k") == "v"; }));
  ASSERT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }));
  const auto resumes = Replication(follower)["follower"]["partial_resumes"].get<long long>();

  const auto sent = Clock::now();
  leader.Signal(SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return leader.Status("/readyz") == 503; }, milliseconds(500)));
  // Still serving: clients the Endpoints have not dropped yet get answers.
  EXPECT_EQ(leader.Get("k"), "v");
  EXPECT_EQ(leader.Put("during-drain", "ok"), 200);
  const int status = leader.Wait();
  const auto took = Clock::now() - sent;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_GE(took, milliseconds(1900));
  // The follower's long poll (up to the leader's 10 s cap) was answered
  // at once, not waited out.
  EXPECT_LT(took, seconds(6)) << leader.LogText();

  // The follower keeps serving, logs no error for the orderly shutdown,
  // and streams on from its seq when the leader is back.
  EXPECT_EQ(follower.Get("k"), "v");
  leader.Start();
  ASSERT_EQ(leader.Put("after", "restart"), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Get("after") == "restart"; }));
  EXPECT_EQ(follower.Get("during-drain"), "ok");
  const auto replication = Replication(follower)["follower"];
  EXPECT_EQ(replication["snapshots"].get<long long>(), 1);  // its first, only
  EXPECT_GT(replication["partial_resumes"].get<long long>(), resumes);
  const std::string log = follower.LogText();
  EXPECT_EQ(log.find("mehdbd: error:"), std::string::npos)
      << log;
}

TEST_F(HandOff, ParkedWaitsAreAnsweredAtOnceWhenTheListenersClose) {
  Pod& leader = AddPod();
  leader.Start();
  // No follower will ever ack: this write waits up to its 20 s ack_timeout.
  auto write = std::async(std::launch::async, [&] {
    return leader.Client(30)->Put("/set/k?acks=1&ack_timeout=20s", "v", "text/plain");
  });
  std::this_thread::sleep_for(milliseconds(300));
  const auto sent = Clock::now();
  leader.Signal(SIGTERM);
  auto answer = write.get();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 202);  // written, not acknowledged in time
  EXPECT_EQ(answer->get_header_value("X-Mehdb-Acks"), "0");
  const int status = leader.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_LT(Clock::now() - sent, seconds(10));
}

TEST_F(HandOff, SecondSigtermEndsTheDrainDelay) {
  Pod& leader = AddPod({"--drain-delay=60s"});
  leader.Start();
  const auto sent = Clock::now();
  leader.Signal(SIGTERM);
  ASSERT_TRUE(WaitUntil([&] { return leader.Status("/readyz") == 503; }, seconds(2)));
  leader.Signal(SIGTERM);
  const int status = leader.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_LT(Clock::now() - sent, seconds(30));
}

TEST_F(HandOff, TheCliRetriesThroughALeaderRestartWithinItsBound) {
  ASSERT_NO_FATAL_FAILURE(StartLeaderAndFollowerInSync());
  Pod& leader = *pods_[0];
  Pod& follower = *pods_[1];
  leader.Terminate();

  // Without retries, a stopped leader is an error at once (exit 6: refused).
  EXPECT_EQ(Cli(leader.url(), "--retry-for 0 get k").get(), 6);
  // Within the bound: a write to the stopped leader (refused connections)
  // and one through the follower (503 + Retry-After while it has no
  // leader, then its 307) both land once the leader is back.
  auto direct = Cli(leader.url(), "--retry-for 30s put direct 1");
  ASSERT_TRUE(WaitUntil([&] {
    auto res = follower.Client()->Put("/set/x", "x", "text/plain");
    return res && res->status == 503;
  }));
  auto via_follower = Cli(follower.url(), "--retry-for 30s put via-follower 2");
  std::this_thread::sleep_for(milliseconds(1500));
  leader.Start();
  EXPECT_EQ(direct.get(), 0);
  EXPECT_EQ(via_follower.get(), 0);
  EXPECT_EQ(leader.Get("direct"), "1");
  EXPECT_EQ(leader.Get("via-follower"), "2");

  // Past the bound it gives up with the last error.
  leader.Terminate();
  const auto started = Clock::now();
  EXPECT_EQ(Cli(leader.url(), "--retry-for 1s get k").get(), 6);
  EXPECT_GE(Clock::now() - started, milliseconds(900));
}

}  // namespace
}  // namespace mehdb::cluster

// SPDX-License-Identifier: MIT
//
// Scenario 2: slowloris. 500 connections to one mehdbd (default options)
// either sit idle or send a request head a byte at a time, and reconnect
// whenever the daemon closes them, while a normal client keeps making
// requests. Every normal GET must be answered within 1 s and every durable
// PUT (one fsync, which swings several-fold on a busy disk) within 2.5 s:
// a request queued behind the slow connections would wait for their 5 s
// deadlines instead. The daemon's whole-head deadline must cut the
// tricklers off (with 408) rather than let a byte now and then keep them
// forever.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "pod.h"
#include "stress.h"

namespace mehdb::stress {
namespace {

using cluster::Pod;
using cluster::Ports;
using Clock = std::chrono::steady_clock;

constexpr int kAttackers = 500;
constexpr auto kAttackTime = std::chrono::seconds(15);
constexpr auto kGetBound = std::chrono::seconds(1);
constexpr auto kPutBound = std::chrono::milliseconds(2500);

// The slow clients: even ones idle, odd ones trickle a request head. All are
// driven by one thread with poll(), reconnecting whenever the daemon hangs up.
struct Attack {
  std::string address;
  int port;
  std::atomic<bool> stop{false};
  std::atomic<long> closed_by_server{0}, got_408{0}, connect_failures{0};
  std::atomic<int> open{0};

  void Run() {
    static constexpr std::string_view kHead =
        "GET /get/slow HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    struct Slow {
      int fd = -1;
      std::size_t sent = 0;
    };
    std::vector<Slow> conns(kAttackers);
    auto reconnect = [&](Slow& s) {
      if (s.fd >= 0) ::close(s.fd);
      s = Slow{ConnectTcp(address, port), 0};
      if (s.fd < 0) ++connect_failures;
    };
    for (auto& s : conns) reconnect(s);
    auto next_byte = Clock::now();
    while (!stop.load()) {
      int n = 0;
      for (auto& s : conns) n += s.fd >= 0;
      open.store(n);
      // Hang-ups: the daemon closed an idle or too slow connection.
      std::vector<pollfd> fds;
      for (auto& s : conns) fds.push_back({s.fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 50);
      for (std::size_t i = 0; i < conns.size(); ++i) {
        if (conns[i].fd < 0) {
          reconnect(conns[i]);
          continue;
        }
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[512];
        const ssize_t r = ::recv(conns[i].fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (r > 0) {
          buf[r] = '\0';
          if (std::strstr(buf, " 408 ") != nullptr) ++got_408;
        }
        ++closed_by_server;
        reconnect(conns[i]);
      }
      // Tricklers send one more byte of the head every 300 ms.
      if (Clock::now() >= next_byte) {
        next_byte = Clock::now() + std::chrono::milliseconds(300);
        for (std::size_t i = 1; i < conns.size(); i += 2) {
          Slow& s = conns[i];
          if (s.fd < 0 || s.sent + 1 >= kHead.size()) continue;  // never the last byte
          if (::send(s.fd, kHead.data() + s.sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) ++s.sent;
        }
      }
    }
    for (auto& s : conns)
      if (s.fd >= 0) ::close(s.fd);
  }
};

TEST(Slowloris, NormalRequestsAnsweredWellWithinTheSlowClientsDeadline) {
  ASSERT_GE(RaiseFileLimit(4096), static_cast<std::size_t>(kAttackers + 200))
      << "cannot raise the open-file limit";
  WorkDir dir;
  const Ports ports = Ports::ForThisProcess();
  Pod pod(dir.path(), 0, ports);
  pod.Start();
  ASSERT_EQ(pod.Put("k", "v"), 200);
  ReportRss("slowloris: before", pod.pid());

  Attack attack;
  attack.address = pod.address();
  attack.port = ports.client;
  std::thread attacker([&] { attack.Run(); });
  ASSERT_TRUE(cluster::WaitUntil([&] { return attack.open.load() >= kAttackers; }))
      << "only " << attack.open.load() << " slow connections opened";

  // A normal client: one keep-alive connection, and a fresh one each time.
  auto keep_alive = pod.Client(5);
  keep_alive->set_keep_alive(true);
  long requests = 0;
  Clock::duration worst{0};
  const auto end = Clock::now() + kAttackTime;
  while (Clock::now() < end) {
    for (int fresh = 0; fresh < 2; ++fresh) {
      auto one_shot = pod.Client(5);
      httplib::Client& client = fresh ? *one_shot : *keep_alive;
      const bool put = requests % 3 == 0;
      const auto start = Clock::now();
      auto res = put ? client.Put("/set/k", "v" + std::to_string(requests),
                                  "application/octet-stream")
                     : client.Get("/get/k");
      const auto took = Clock::now() - start;
      worst = std::max(worst, took);
      ++requests;
      ASSERT_TRUE(res) << "normal request " << requests << " failed: "
                       << httplib::to_string(res.error());
      ASSERT_LT(res->status, 300) << res->body;
      EXPECT_LT(took, put ? Clock::duration(kPutBound) : Clock::duration(kGetBound))
          << (put ? "PUT " : "GET ") << requests << " took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ReportRss("slowloris: after 15 s under attack", pod.pid());
  attack.stop.store(true);
  attacker.join();

  std::printf("slowloris: %ld normal requests, worst %lld ms; %ld slow connections closed by "
              "the daemon (%ld with 408), %ld connect failures\n",
              requests,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(worst).count()),
              attack.closed_by_server.load(), attack.got_408.load(),
              attack.connect_failures.load());
  // The daemon's deadlines did their part: the idle ones were closed after
  // the idle timeout (5 s) and the tricklers got 408 after the head timeout
  // (5 s from their first byte), although they never stopped sending.
  EXPECT_GE(attack.closed_by_server.load(), kAttackers);
  EXPECT_GE(attack.got_408.load(), kAttackers / 2);
  EXPECT_EQ(attack.connect_failures.load(), 0);
  EXPECT_EQ(pod.Status("/healthz"), 200);
  EXPECT_EQ(pod.Terminate(), 0) << "graceful shutdown after the attack";
}

}  // namespace
}  // namespace mehdb::stress

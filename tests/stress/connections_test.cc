// SPDX-License-Identifier: MIT
//
// Scenario: connections that cost no thread. 10,000 idle keep-alive
// connections to one mehdbd: its thread count does not move and a normal
// request is still answered; the RSS each idle connection costs is
// reported. And 40 slowloris connections on a leader's peer port while a
// follower restarts: the follower catches up and replicates a new write
// during the attack (a thread per waiting peer connection kept it out).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "pod.h"
#include "stress.h"

namespace mehdb::stress {
namespace {

using cluster::Pod;
using cluster::Ports;

// "Threads:" of /proc/<pid>/status.
long Threads(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0) return std::stol(line.substr(8));
  return -1;
}

class Sockets {
 public:
  ~Sockets() {
    for (int fd : fds_) ::close(fd);
  }
  void Add(int fd) { fds_.push_back(fd); }
  std::size_t size() const { return fds_.size(); }
  const std::vector<int>& fds() const { return fds_; }

 private:
  std::vector<int> fds_;
};

TEST(Connections, TenThousandIdleKeepAliveConnectionsHoldNoThread) {
  constexpr int kIdle = 10000;
  ASSERT_GE(RaiseFileLimit(kIdle + 500), static_cast<std::size_t>(kIdle + 200))
      << "cannot raise the open-file limit";
  WorkDir dir;
  const Ports ports = Ports::ForThisProcess();
  Pod pod(dir.path(), 0, ports, {"--idle-timeout=10m", "--max-connections=20000"});
  pod.Start();
  ASSERT_EQ(pod.Put("k", "v"), 200);
  const long threads_before = Threads(pod.pid());
  const long rss_before = RssKiB(pod.pid());

  Sockets idle;
  const std::string request = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
  // Open in waves: each wave sends its request, then reads every answer, so
  // all of them end up idle between requests (keep-alive).
  constexpr int kWave = 500;
  for (int wave = 0; wave < kIdle / kWave; ++wave) {
    std::vector<int> fds;
    for (int i = 0; i < kWave; ++i) {
      const int fd = ConnectTcp(pod.address(), ports.client);
      ASSERT_GE(fd, 0) << "connect failed after " << idle.size() + fds.size();
      ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(request.size()));
      fds.push_back(fd);
    }
    for (int fd : fds) {
      timeval tv{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buf[512];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      ASSERT_GT(n, 12) << "no answer on connection " << idle.size();
      ASSERT_EQ(std::string(buf, 12), "HTTP/1.1 200");
      idle.Add(fd);
    }
  }
  ASSERT_EQ(idle.size(), static_cast<std::size_t>(kIdle));
  const long threads_after = Threads(pod.pid());
  const long rss_after = RssKiB(pod.pid());
  std::printf("connections: %d idle keep-alive connections; mehdbd threads %ld -> %ld, RSS %ld "
              "-> %ld KiB (%.2f KiB per idle connection)\n",
              kIdle, threads_before, threads_after, rss_before, rss_after,
              static_cast<double>(rss_after - rss_before) / kIdle);
  EXPECT_EQ(threads_after, threads_before) << "idle connections took threads";
  // Still served, and the idle ones still open (not shed, not timed out).
  EXPECT_EQ(pod.Get("k"), std::optional<std::string>("v"));
  std::size_t open = 0;
  for (int fd : idle.fds()) {
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    open += (n < 0 && errno == EAGAIN) ? 1 : 0;
  }
  EXPECT_EQ(open, idle.size());
  // And one of them serves its next request.
  const int fd = idle.fds()[kIdle / 2];
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  char buf[512];
  ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 200");
}

TEST(Connections, PeerPortSlowlorisDoesNotKeepAFollowerOut) {
  ASSERT_GE(RaiseFileLimit(1024), static_cast<std::size_t>(200));
  WorkDir dir;
  const Ports ports = Ports::ForThisProcess();
  Pod leader(dir.path(), 0, ports);
  Pod follower(dir.path(), 1, ports);
  leader.Start();
  follower.Start();
  ASSERT_EQ(leader.Put("before", "1"), 200);
  ASSERT_TRUE(cluster::WaitUntil([&] { return follower.Get("before").has_value(); }));
  follower.Kill();

  // 40 connections on the leader's peer port: half idle, half sending a
  // request head a byte at a time (never finishing it).
  Sockets attack;
  for (int i = 0; i < 40; ++i) {
    const int fd = ConnectTcp(leader.address(), ports.peer);
    ASSERT_GE(fd, 0);
    if (i % 2 == 1) ::send(fd, "GET /v1/replication/log?from=1 HTTP/1.1\r\n", 41, MSG_NOSIGNAL);
    attack.Add(fd);
  }
  ASSERT_EQ(leader.Put("during", "2"), 200);
  follower.Start();
  for (std::size_t i = 1; i < attack.size(); i += 2)
    ::send(attack.fds()[i], "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  EXPECT_TRUE(cluster::WaitUntil([&] { return follower.Get("during").has_value(); }))
      << follower.ReplicationJson();
  ASSERT_EQ(leader.Put("after", "3"), 200);
  EXPECT_TRUE(cluster::WaitUntil([&] { return follower.Get("after").has_value(); }));
  EXPECT_EQ(follower.Status("/readyz"), 200);
  // The idle attackers are all still connected (their deadline is the peer
  // port's 30 s idle timeout): nothing was freed for the follower by
  // closing them. (The tricklers are cut after the 5 s head deadline.)
  std::size_t open = 0;
  for (std::size_t i = 0; i < attack.size(); i += 2) {
    char c;
    const ssize_t n = ::recv(attack.fds()[i], &c, 1, MSG_DONTWAIT | MSG_PEEK);
    open += (n < 0 && errno == EAGAIN) ? 1 : 0;
  }
  EXPECT_EQ(open, attack.size() / 2);
}

}  // namespace
}  // namespace mehdb::stress

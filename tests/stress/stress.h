// SPDX-License-Identifier: MIT
//
// Shared by the stress scenarios (suite 'stress'): a work directory that is
// kept when a test fails, the daemon's resident memory, the open-file limit,
// and a ledger of what the daemon acknowledged. Processes are started with
// the cluster suite's Pod (tests/cluster/pod.h).
#ifndef MEHDB_TESTS_STRESS_STRESS_H_
#define MEHDB_TESTS_STRESS_STRESS_H_

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace mehdb::cluster {
class Pod;
}

namespace mehdb::stress {

// A fresh directory under /tmp; removed afterwards unless the test failed.
class WorkDir {
 public:
  WorkDir();
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// VmRSS of `pid` in KiB from /proc/<pid>/status (-1 if unreadable).
long RssKiB(pid_t pid);

// Prints "<label>: mehdbd RSS <n> KiB" to the test output.
void ReportRss(const std::string& label, pid_t pid);

// A blocking TCP connection to address:port (IPv4, loopback addresses in
// these tests); -1 on failure.
int ConnectTcp(const std::string& address, int port);

// Raises this process's open-file soft limit to at least `want` (up to the
// hard limit); answers the limit now in force.
std::size_t RaiseFileLimit(std::size_t want);

// What a key may hold after writes, some of whose answers never came: the
// last acknowledged state (nullopt = absent) plus every later attempt that
// got no answer (a write cut off by a crash may or may not have committed).
class KeyLedger {
 public:
  using State = std::optional<std::string>;
  void Acked(const std::string& key, State state);
  void Unanswered(const std::string& key, State attempted);
  // True if `seen` is a state the key may be in; then the key is known to
  // be in it, and that becomes its only possible state.
  bool Settle(const std::string& key, const State& seen);
  const std::map<std::string, std::set<State>>& keys() const { return keys_; }
  std::size_t unanswered() const { return unanswered_; }

 private:
  std::map<std::string, std::set<State>> keys_;
  std::size_t unanswered_ = 0;
};

// A value of `size` bytes that names its key and a serial, so a read that
// returns another key's or an older value is caught.
std::string MakeValue(const std::string& key, std::size_t serial, std::size_t size);

// Threads doing durable PUTs to their own keys ("<prefix><writer>-<n>"),
// one new connection per write so a killed daemon leaves no stale socket.
// Records every answer's status (0 = no answer) and the first body seen for
// each status (the distinct ones, up to a few); can be paused so the store can be checked while still.
class Writers {
 public:
  struct Options {
    int writers = 8;
    int keys_per_writer = 32;
    std::string prefix = "w";
    // Value size for the n-th write of a writer.
    std::function<std::size_t(std::size_t n)> value_bytes = [](std::size_t n) {
      return 100 + (n * 977) % 4000;
    };
  };
  Writers(const cluster::Pod& pod, Options options);
  ~Writers();  // stops and joins

  void Pause();  // returns once no write is in flight
  void Resume();
  long acked() const { return acked_.load(); }
  // Writers inside a write (connecting, sending, awaiting the answer) now.
  int in_flight() const { return busy_.load(); }
  std::map<int, long> statuses() const;
  // The distinct bodies answered with `status` (at most a few), joined.
  std::string BodyFor(int status) const;
  std::vector<KeyLedger>& ledgers() { return ledgers_; }

 private:
  void Run(int id);

  const cluster::Pod& pod_;
  const Options options_;
  std::vector<KeyLedger> ledgers_;
  std::atomic<bool> stop_{false}, paused_{false};
  std::atomic<int> busy_{0};
  std::atomic<long> acked_{0};
  mutable std::mutex mu_;
  std::map<int, long> statuses_;          // guarded by mu_
  std::map<int, std::set<std::string>> bodies_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// Reads every key the ledgers know from `pod` and checks each holds a state
// it may hold (a gtest failure names the first that does not); answers the
// number of keys checked.
long ExpectLedgersHold(const cluster::Pod& pod, std::vector<KeyLedger>& ledgers,
                       const std::string& when);

}  // namespace mehdb::stress

#endif  // MEHDB_TESTS_STRESS_STRESS_H_

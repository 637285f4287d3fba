// SPDX-License-Identifier: MIT
//
// Scenario 1: a minute of mixed reads, durable writes (1 KiB values) and
// deletes from 200 concurrent keep-alive connections against one mehdbd with
// its default --threads (64). Requests beyond the pool wait for a worker;
// none may be answered with a 5xx. Each connection owns its own keys, so the
// last acknowledged write of every key is unambiguous, and every one of them
// must read back afterwards. Then the load runs again and the daemon is
// SIGKILLed in the middle of it: after the restart every write acknowledged
// in either phase reads back. A write answered anything but success (a 4xx
// included) is counted as a failure.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "pod.h"
#include "stress.h"

namespace mehdb::stress {
namespace {

using cluster::Pod;
using cluster::Ports;

constexpr int kClients = 200;
constexpr int kKeysPerClient = 16;
constexpr std::size_t kValueBytes = 1024;
constexpr auto kLoadTime = std::chrono::seconds(60);

struct Tally {
  std::atomic<long> reads{0}, writes{0}, deletes{0}, server_errors{0}, transport_errors{0};
  std::atomic<long> refused_writes{0};  // writes and deletes answered 4xx (or 1xx/3xx)
  // Set just before the SIGKILL: transport errors from then on are the kill's.
  std::atomic<bool> killing{false};
  std::atomic<int> in_flight{0};  // clients inside a request now
  std::atomic<long> wrong_reads{0};
  std::mutex mu;
  std::vector<std::string> samples;  // first few bad answers, for the log
  void Note(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (samples.size() < 10) samples.push_back(what);
  }
};

std::unique_ptr<httplib::Client> KeepAliveClient(const Pod& pod) {
  auto c = std::make_unique<httplib::Client>(pod.url());
  c->set_keep_alive(true);
  c->set_connection_timeout(5, 0);
  // Generous: with 200 clients and 64 workers a request may queue a while;
  // the test asserts answers, not speed.
  c->set_read_timeout(60, 0);
  c->set_write_timeout(60, 0);
  return c;
}

// What one client last had acknowledged for each of its keys (a key it
// lost track of, after a write without an answer, is not there).
using Acknowledged = std::map<std::string, KeyLedger::State>;

// One client: its own keys, a random mix of operations until `stop`.
void RunClient(const Pod& pod, int id, const std::atomic<bool>& stop, KeyLedger& ledger,
               Acknowledged& mine, std::size_t serial, Tally& tally) {
  auto client = KeepAliveClient(pod);
  std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1 + static_cast<unsigned>(mine.size()));
  auto transport_error = [&] {
    if (!tally.killing.load()) ++tally.transport_errors;
  };
  while (!stop.load()) {
    struct Busy {
      std::atomic<int>& n;
      explicit Busy(std::atomic<int>& count) : n(count) { ++n; }
      ~Busy() { --n; }
    } busy(tally.in_flight);
    const std::string key =
        "c" + std::to_string(id) + "-k" + std::to_string(rng() % kKeysPerClient);
    const unsigned dice = rng() % 100;
    if (dice < 45) {  // read: must see this client's last acknowledged state
      auto res = client->Get("/get/" + key);
      if (!res) {
        transport_error();
        continue;
      }
      ++tally.reads;
      if (res->status >= 500) {
        ++tally.server_errors;
        tally.Note("GET " + key + " -> " + std::to_string(res->status) + " " + res->body);
        continue;
      }
      const auto it = mine.find(key);
      const KeyLedger::State want = it == mine.end() ? std::nullopt : it->second;
      const KeyLedger::State got =
          res->status == 200 ? KeyLedger::State(res->body) : std::nullopt;
      if ((res->status != 200 && res->status != 404) || got != want) {
        ++tally.wrong_reads;
        tally.Note("GET " + key + " -> " + std::to_string(res->status) + " (stale or wrong)");
      }
    } else if (dice < 90) {  // durable write
      const std::string value = MakeValue(key, ++serial, kValueBytes);
      auto res = client->Put("/set/" + key, value, "application/octet-stream");
      if (!res) {
        transport_error();
        ledger.Unanswered(key, value);
        mine.erase(key);  // unknown now; reads of it are not judged
        continue;
      }
      ++tally.writes;
      if (res->status >= 500) {
        ++tally.server_errors;
        tally.Note("PUT " + key + " -> " + std::to_string(res->status) + " " + res->body);
      }
      if (res->status == 200 || res->status == 201) {
        ledger.Acked(key, value);
        mine[key] = value;
      } else if (res->status < 500) {
        ++tally.refused_writes;
        tally.Note("PUT " + key + " -> " + std::to_string(res->status) + " " + res->body);
      }
    } else {  // delete
      auto res = client->Delete("/set/" + key);
      if (!res) {
        transport_error();
        ledger.Unanswered(key, std::nullopt);
        mine.erase(key);
        continue;
      }
      ++tally.deletes;
      if (res->status >= 500) {
        ++tally.server_errors;
        tally.Note("DELETE " + key + " -> " + std::to_string(res->status) + " " + res->body);
      }
      if (res->status == 200 || res->status == 204 || res->status == 404) {
        ledger.Acked(key, std::nullopt);
        mine[key] = std::nullopt;
      } else if (res->status < 500) {
        ++tally.refused_writes;
        tally.Note("DELETE " + key + " -> " + std::to_string(res->status) + " " + res->body);
      }
    }
  }
}

// Runs every client until `until` returns (it may stop the daemon). Values
// name a serial counted from `first_serial`: each phase starts far above the
// last so a value never repeats (a stale read would pass for a fresh one).
void RunLoad(const Pod& pod, std::vector<KeyLedger>& ledgers, std::vector<Acknowledged>& acked,
             std::size_t first_serial, Tally& tally, const std::function<void()>& until) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] { RunClient(pod, i, stop, ledgers[i], acked[i], first_serial, tally); });
  until();
  stop.store(true);
  for (auto& t : clients) t.join();
}

TEST(Load, TwoHundredConnectionsNo5xxAndEveryAckedWriteSurvivesKill) {
  ASSERT_GE(RaiseFileLimit(4096), 1024u);
  WorkDir dir;
  Pod pod(dir.path(), 0, Ports::ForThisProcess());
  pod.Start();
  ReportRss("load: before", pod.pid());

  std::vector<KeyLedger> ledgers(kClients);
  std::vector<Acknowledged> acked(kClients);
  Tally tally;
  RunLoad(pod, ledgers, acked, 0, tally, [] { std::this_thread::sleep_for(kLoadTime); });
  ReportRss("load: after 60 s", pod.pid());
  const long writes_before_kill = tally.writes.load();
  ExpectLedgersHold(pod, ledgers, "load: after the load");

  // Again, and SIGKILL the daemon while the 200 clients are at it.
  int in_flight_at_kill = 0;
  RunLoad(pod, ledgers, acked, 1000000000, tally, [&] {
    const long before = tally.writes.load();
    EXPECT_TRUE(cluster::WaitUntil([&] { return tally.writes.load() > before + 2 * kClients; }))
        << "the second load made no progress";
    tally.killing.store(true);
    in_flight_at_kill = tally.in_flight.load();
    pod.Kill();
  });
  std::size_t unanswered = 0;
  for (const auto& ledger : ledgers) unanswered += ledger.unanswered();
  pod.Start();
  ReportRss("load: after SIGKILL and restart", pod.pid());

  std::printf("load: %ld reads, %ld writes (%ld before the kill phase), %ld deletes, %ld 5xx, "
              "%ld refused writes, %ld transport errors; %d requests in flight at the SIGKILL, "
              "%zu writes unanswered\n",
              tally.reads.load(), tally.writes.load(), writes_before_kill, tally.deletes.load(),
              tally.server_errors.load(), tally.refused_writes.load(),
              tally.transport_errors.load(), in_flight_at_kill, unanswered);
  for (const auto& s : tally.samples) std::printf("  %s\n", s.c_str());
  EXPECT_EQ(tally.server_errors.load(), 0);
  EXPECT_EQ(tally.refused_writes.load(), 0);
  EXPECT_EQ(tally.transport_errors.load(), 0);
  EXPECT_EQ(tally.wrong_reads.load(), 0);
  EXPECT_GT(writes_before_kill, kClients);  // the load did happen
  EXPECT_GT(in_flight_at_kill, 0) << "the SIGKILL landed with no request in flight";
  ExpectLedgersHold(pod, ledgers, "load: after SIGKILL and restart");
}

}  // namespace
}  // namespace mehdb::stress

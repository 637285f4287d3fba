// SPDX-License-Identifier: MIT
//
// Scenario 1: a minute of mixed reads, durable writes (1 KiB values) and
// deletes from 200 concurrent keep-alive connections against one mehdbd with
// its default --threads (64). Requests beyond the pool wait for a worker;
// none may be answered with a 5xx. Each connection owns its own keys, so the
// last acknowledged write of every key is unambiguous, and every one of them
// must read back afterwards, and again after a SIGKILL and restart.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
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

// One client: its own keys, a random mix of operations until `stop`.
void RunClient(const Pod& pod, int id, const std::atomic<bool>& stop, KeyLedger& ledger,
               Tally& tally) {
  auto client = KeepAliveClient(pod);
  std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1);
  std::size_t serial = 0;
  std::map<std::string, KeyLedger::State> mine;  // what this client last had acknowledged
  while (!stop.load()) {
    const std::string key =
        "c" + std::to_string(id) + "-k" + std::to_string(rng() % kKeysPerClient);
    const unsigned dice = rng() % 100;
    if (dice < 45) {  // read: must see this client's last acknowledged state
      auto res = client->Get("/get/" + key);
      if (!res) {
        ++tally.transport_errors;
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
        ++tally.transport_errors;
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
      }
    } else {  // delete
      auto res = client->Delete("/set/" + key);
      if (!res) {
        ++tally.transport_errors;
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
      }
    }
  }
}

TEST(Load, TwoHundredConnectionsNo5xxAndEveryAckedWriteSurvivesKill) {
  ASSERT_GE(RaiseFileLimit(4096), 1024u);
  WorkDir dir;
  Pod pod(dir.path(), 0, Ports::ForThisProcess());
  pod.Start();
  ReportRss("load: before", pod.pid());

  std::atomic<bool> stop{false};
  std::vector<KeyLedger> ledgers(kClients);
  Tally tally;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] { RunClient(pod, i, stop, ledgers[i], tally); });
  std::this_thread::sleep_for(kLoadTime);
  stop.store(true);
  for (auto& t : clients) t.join();
  ReportRss("load: after 60 s", pod.pid());

  std::printf("load: %ld reads, %ld writes, %ld deletes, %ld 5xx, %ld transport errors\n",
              tally.reads.load(), tally.writes.load(), tally.deletes.load(),
              tally.server_errors.load(), tally.transport_errors.load());
  for (const auto& s : tally.samples) std::printf("  %s\n", s.c_str());
  EXPECT_EQ(tally.server_errors.load(), 0);
  EXPECT_EQ(tally.transport_errors.load(), 0);
  EXPECT_EQ(tally.wrong_reads.load(), 0);
  EXPECT_GT(tally.writes.load(), kClients);  // the load did happen

  ExpectLedgersHold(pod, ledgers, "load: after the load");
  pod.Kill();
  pod.Start();
  ReportRss("load: after SIGKILL and restart", pod.pid());
  ExpectLedgersHold(pod, ledgers, "load: after SIGKILL and restart");
}

}  // namespace
}  // namespace mehdb::stress

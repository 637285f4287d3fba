// SPDX-License-Identifier: MIT
//
// bench/replication: a leader and two followers as real mehdbd processes on
// loopback (the cluster tests' Pod harness).
//  1. Steady 1,000 writes/s of 1 KiB values for 30 s; for each write, the
//     time from the leader's acknowledgement until the value is readable on
//     each follower (a read with min_seq, answered as soon as the follower
//     has applied it). p50 / p99 / max.
//  2. Bootstrap of a new follower from a leader holding 100,000 x 1 KiB keys.
//  3. CPU used by an idle follower over 10 s.
// Targets: p99 lag <= 50 ms; bootstrap <= 3 s; idle CPU <= 1 %.
// A write or read-back that fails is a failure of the run, not a footnote:
// the lag rows say "FAILED" with the count (a failed read has no lag to put
// in the percentiles) and the program exits 1.
//
//   build/bench/replication/replication_bench [--seconds N]
// runs the mehdbd of the same build; MEHDBD=path runs another.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <mutex>
#include <thread>

#include "pod.h"

namespace {

using Clock = std::chrono::steady_clock;
using mehdb::cluster::Pod;
using mehdb::cluster::Ports;
using mehdb::cluster::WaitUntil;

struct Probe {
  std::string key;
  std::string seq;
  Clock::time_point acked;
};

// Reads each acknowledged write back from one follower and records the lag.
class LagReader {
 public:
  explicit LagReader(const Pod& follower) : follower_(follower) {
    thread_ = std::thread([this] { Run(); });
  }
  void Push(Probe p) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(p));
    }
    cv_.notify_one();
  }
  std::vector<double> Finish() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
    return lags_ms_;
  }
  int errors() const { return errors_; }

 private:
  void Run() {
    auto client = follower_.Client(10);
    client->set_keep_alive(true);
    for (;;) {
      Probe p;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        p = std::move(queue_.front());
        queue_.pop_front();
      }
      auto res = client->Get("/get/" + p.key + "?min_seq=" + p.seq);
      if (!res || res->status != 200) {
        ++errors_;
        continue;
      }
      lags_ms_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - p.acked).count());
    }
  }
  const Pod& follower_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Probe> queue_;
  bool done_ = false;
  std::vector<double> lags_ms_;
  int errors_ = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), {});
  // Fields after the command name (which may hold spaces): utime is the
  // 14th field overall, stime the 15th.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered even into a pipe or file, so a slow phase shows where it is.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  setenv("MEHDBD", MEHDB_BUILT_MEHDBD, /*overwrite=*/0);  // the Pods read it
  int seconds = 30;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = std::atoi(argv[++i]);
  char tmpl[] = "/tmp/mehdb-bench-repl-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string workdir = tmpl;
  Ports ports = Ports::ForThisProcess();
  Pod leader(workdir, 0, ports), f1(workdir, 1, ports), f2(workdir, 2, ports);
  leader.Start();
  f1.Start();
  f2.Start();

  std::fprintf(stderr, "phase 1: %d s of 1,000 writes/s, lag to two followers\n", seconds);
  // 1. Steady write load, lag to each follower.
  const std::string value(1024, 'v');
  LagReader r1(f1), r2(f2);
  auto client = leader.Client();
  client->set_keep_alive(true);
  // A durable write takes about one fsync, so one client alone cannot write
  // 1,000 times a second: kWriters clients, each paced at its share against
  // the schedule (not against its previous write).
  constexpr int kWriters = 8;
  const auto start = Clock::now();
  std::atomic<int> writes{0}, write_errors{0};
  {
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w)
      writers.emplace_back([&, w] {
        auto c = leader.Client();
        c->set_keep_alive(true);
        for (int i = 0;; ++i) {
          const auto due = start + std::chrono::microseconds(1000LL * (i * kWriters + w));
          if (due - start >= std::chrono::seconds(seconds)) break;
          std::this_thread::sleep_until(due);
          const std::string key = "lag" + std::to_string((i * kWriters + w) % 5000);
          auto res = c->Put("/set/" + key, value, "application/octet-stream");
          const auto acked = Clock::now();
          ++writes;
          if (!res || res->status != 200) {
            ++write_errors;
            continue;
          }
          const std::string seq = res->get_header_value("X-Mehdb-Seq");
          r1.Push({key, seq, acked});
          r2.Push({key, seq, acked});
        }
      });
    for (auto& t : writers) t.join();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  auto lags = r1.Finish();
  auto lags2 = r2.Finish();
  lags.insert(lags.end(), lags2.begin(), lags2.end());
  std::printf("steady load: %d writes in %.1f s (%.0f/s), %d write errors, %d read errors\n",
              writes.load(), elapsed, writes.load() / elapsed, write_errors.load(),
              r1.errors() + r2.errors());
  const int lag_failures = write_errors.load() + r1.errors() + r2.errors();
  const std::string failed =
      lag_failures == 0 ? ""
                        : "  FAILED: " + std::to_string(write_errors.load()) + " writes and " +
                              std::to_string(r1.errors() + r2.errors()) + " reads failed";
  std::printf("%-44s %10s %10s\n", "figure", "value", "target");
  std::printf("%-44s %8.2f ms %10s%s\n", "lag ack -> readable on follower, p50",
              Percentile(lags, 0.50), "", failed.c_str());
  std::printf("%-44s %8.2f ms %10s%s\n", "lag ack -> readable on follower, p99",
              Percentile(lags, 0.99), "<= 50 ms", failed.c_str());
  std::printf("%-44s %8.2f ms %10s%s\n", "lag ack -> readable on follower, max",
              lags.empty() ? 0.0 : *std::max_element(lags.begin(), lags.end()), "",
              failed.c_str());

  std::fprintf(stderr, "phase 3: idle follower CPU over 10 s\n");
  // 3. Idle follower CPU (measured before the big load, on an idle cluster).
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double cpu0 = CpuSeconds(f1.pid());
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const double idle_pct = (CpuSeconds(f1.pid()) - cpu0) / 10.0 * 100.0;

  // 2. Bootstrap a new follower from 100,000 x 1 KiB keys.
  std::fprintf(stderr, "phase 2: loading 100,000 x 1 KiB keys, then a new follower\n");
  f2.Kill();
  {  // 32 loaders in parallel, so group commit keeps this short
    constexpr int kLoaders = 32;
    std::vector<std::thread> loaders;
    std::atomic<int> failed{0};
    for (int t = 0; t < kLoaders; ++t)
      loaders.emplace_back([&, t] {
        auto c = leader.Client(10);
        c->set_keep_alive(true);
        for (int k = t; k < 100000; k += kLoaders) {
          auto res = c->Put("/set/boot" + std::to_string(k), value, "application/octet-stream");
          if (!res || res->status != 200) ++failed;
        }
      });
    for (auto& th : loaders) th.join();
    if (failed > 0) {
      std::fprintf(stderr, "loading failed %d times\n", failed.load());
      return 1;
    }
  }
  auto count = client->Get("/status?level=full");
  if (!count || count->status != 200) return 1;
  Pod fresh(workdir, 3, ports);
  const auto t0 = Clock::now();
  fresh.Start();
  const bool caught_up = WaitUntil([&] {
    auto res = fresh.Client()->Get("/status?level=full");
    return res && res->status == 200 && res->body == count->body;
  }, std::chrono::seconds(120));
  const double boot_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("%-44s %8.2f s  %10s%s\n", "bootstrap of a new follower, 100,000 x 1 KiB", boot_s,
              "<= 3 s", caught_up ? "" : "  FAILED: did not catch up within 120 s");
  std::printf("%-44s %8.2f %%  %10s\n", "idle follower CPU over 10 s", idle_pct, "<= 1 %");
  std::printf("(%u hardware threads; process start counts in the bootstrap time)\n",
              std::thread::hardware_concurrency());
  leader.Kill();
  f1.Kill();
  fresh.Kill();
  std::filesystem::remove_all(workdir);
  return lag_failures == 0 && caught_up ? 0 : 1;
}

// SPDX-License-Identifier: MIT
//
// Helper for crash_state_test, run under the io_trace LD_PRELOAD library:
// opens a store and runs rounds of 1-3 threads, each doing one durable put
// or erase on keys it alone owns (so each key's writes are sequential), and
// writes one acknowledgement line to stdout per write that returned. The
// library records those lines in the same order as the store's file writes.
#include <mehdb/store.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crash_state_model.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_state_writer DIR ROUNDS SEED\n");
    return 2;
  }
  // Small log segments, so the trace holds segment creation, rotation and
  // removal too; and an applier that commits as soon as records wait, so
  // LMDB's commits interleave with the log's appends all through the trace
  // (with the default apply_delay a short run would apply in a few batches).
  mehdb::Options options;
  options.wal_segment_bytes = 64 << 10;
  options.apply_delay = std::chrono::milliseconds(0);
  auto store = mehdb::Store::Open(argv[1], options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const int rounds = std::atoi(argv[2]);
  std::mt19937 rng(static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)));
  // Inline values, a page-sized one, and multi-page (overflow) values.
  const std::size_t sizes[] = {0, 20, 700, 3000, 9000};
  std::mutex out_mu;
  unsigned gen = 0;
  for (int round = 0; round < rounds; ++round) {
    const int threads = 1 + static_cast<int>(rng() % 3);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      const std::string key = "t" + std::to_string(t) + "-k" + std::to_string(rng() % 6);
      const bool erase = rng() % 8 == 0;
      const std::size_t size = sizes[rng() % 5];
      const unsigned g = ++gen;
      pool.emplace_back([&, key, erase, size, g] {
        auto r = erase ? (*store)->Erase(key)
                       : (*store)->Put(key, mehdb::testing::CrashStateValue(key, g, size));
        if (!r.ok()) {
          std::fprintf(stderr, "write: %s\n", r.status().ToString().c_str());
          std::_Exit(1);
        }
        const std::string line = erase ? "E " + key + "\n"
                                       : "P " + key + " " + std::to_string(g) + " " +
                                             std::to_string(size) + "\n";
        std::lock_guard lock(out_mu);
        if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
          std::_Exit(1);
      });
    }
    for (auto& th : pool) th.join();
    // Two rounds in three end with the applier's commit, so the trace holds
    // at least that many LMDB commits however the applier's own batches fall
    // on this machine (a fast disk let it apply 50 rounds in a few commits).
    if (rng() % 3 != 0) {
      if (auto s = (*store)->Flush(); !s.ok()) {
        std::fprintf(stderr, "flush: %s\n", s.ToString().c_str());
        return 1;
      }
    }
  }
  return 0;
}

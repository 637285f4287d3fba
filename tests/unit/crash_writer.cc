// SPDX-License-Identifier: MIT
//
// Helper for crash_test: N threads write durable keys into a store and print
// each key on stdout once its write is acknowledged. The test SIGKILLs this
// process at a random moment and checks every printed key survived.
#include <mehdb/store.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crash_writer DIR THREADS\n");
    return 2;
  }
  auto store = mehdb::Store::Open(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const int threads = std::atoi(argv[2]);
  const std::string run = std::to_string(getpid());
  std::mutex out_mu;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        const std::string key = run + "-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = (*store)->Put(key, "value-of-" + key);
        if (!r.ok()) {
          std::fprintf(stderr, "put: %s\n", r.status().ToString().c_str());
          std::_Exit(1);
        }
        std::lock_guard lock(out_mu);
        // One write(2) per ack: what reached the pipe was acknowledged.
        const std::string line = key + "\n";
        if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
          std::_Exit(1);
      }
    });
  }
  for (auto& th : pool) th.join();
}

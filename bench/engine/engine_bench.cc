// SPDX-License-Identifier: MIT
//
// bench/engine: libmehdb against raw LMDB C calls on the same data, in the
// same run, so the ratios mean something on whatever machine runs it.
// 100,000 keys x 1 KiB. Prints ops/s for each and the ratio to raw LMDB.
//
//   build/bench/engine/engine_bench [DIR] [--seconds N]
//
// Fairness: the raw baseline does what any real caller does per operation
// (a read transaction per get with the value copied out; one transaction per
// write), using LMDB's default thread-local reader slots.
#include <lmdb.h>
#include <mehdb/store.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kKeys = 100000;
constexpr std::size_t kValueBytes = 1024;
constexpr int kLoadBatch = 1000;
double g_seconds = 2.0;

std::string KeyOf(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "key%08d", i);
  return buf;
}

void Check(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "lmdb %s: %s\n", what, mdb_strerror(rc));
    std::exit(1);
  }
}

void CheckStatus(const mehdb::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "mehdb %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// Runs fn(thread_index, iteration) on `threads` threads for `seconds`
// (g_seconds by default); answers operations per second.
double Rate(int threads, const std::function<void(int, std::uint64_t)>& fn,
            double seconds = 0) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> total{0};
  std::vector<std::thread> pool;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) fn(t, n++);
      total += n;
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds > 0 ? seconds : g_seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(total.load()) / secs;
}

struct Raw {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  Raw(const std::string& dir, unsigned flags) {
    std::filesystem::create_directories(dir);
    Check(mdb_env_create(&env), "create");
    Check(mdb_env_set_mapsize(env, std::size_t{4} << 30), "mapsize");
    Check(mdb_env_set_maxreaders(env, 256), "maxreaders");
    Check(mdb_env_open(env, dir.c_str(), flags, 0640), "open");
    MDB_txn* txn;
    Check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    Check(mdb_dbi_open(txn, nullptr, 0, &dbi), "dbi");
    Check(mdb_txn_commit(txn), "commit");
  }
  ~Raw() { mdb_env_close(env); }
  void Put(const std::string& k, const std::string& v) {
    MDB_txn* txn;
    Check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    MDB_val key{k.size(), const_cast<char*>(k.data())}, val{v.size(), const_cast<char*>(v.data())};
    Check(mdb_put(txn, dbi, &key, &val, 0), "put");
    Check(mdb_txn_commit(txn), "commit");
  }
  // Loads the keys exactly as the mehdb store below is loaded (ordered, 1,000
  // per transaction, plain puts), so both B-trees have the same shape: with
  // MDB_APPEND raw LMDB would pack its pages full while ordinary puts split
  // them in half, and the scan ratio would measure page fill, not code.
  void Load(const std::string& value) {
    for (int i = 0; i < kKeys; i += kLoadBatch) {
      MDB_txn* txn;
      Check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
      for (int n = i; n < i + kLoadBatch; ++n) {
        std::string k = KeyOf(n);
        MDB_val key{k.size(), k.data()}, val{value.size(), const_cast<char*>(value.data())};
        Check(mdb_put(txn, dbi, &key, &val, 0), "load");
      }
      Check(mdb_txn_commit(txn), "commit");
    }
  }
  std::string Get(const std::string& k) {
    MDB_txn* txn;
    Check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), "begin");
    MDB_val key{k.size(), const_cast<char*>(k.data())}, val;
    Check(mdb_get(txn, dbi, &key, &val), "get");
    std::string out(static_cast<const char*>(val.mv_data), val.mv_size);
    mdb_txn_abort(txn);
    return out;
  }
};

std::unique_ptr<mehdb::Store> OpenStore(const std::string& dir, mehdb::Durability d) {
  mehdb::Options o;
  o.durability = d;
  o.map_bytes = std::uint64_t{1} << 30;
  auto s = mehdb::Store::Open(dir, o);
  CheckStatus(s.status(), "open");
  return std::move(*s);
}

// The same keys, batches and order as Raw::Load.
void Load(mehdb::Store& store, const std::string& value) {
  for (int i = 0; i < kKeys; i += kLoadBatch) {
    mehdb::Batch b;
    for (int k = i; k < i + kLoadBatch; ++k) b.Put(KeyOf(k), value);
    CheckStatus(store.Write(b).status(), "load");
  }
}

// The rates of `ours` and `raw` measured in alternating slices, four each,
// over g_seconds per side: a synced write's cost on this VM's disk swings
// several-fold from one second to the next, so a baseline measured once
// before or after would compare different disks.
struct Pair {
  double ours = 0, raw = 0;
};
Pair Alternate(int threads, const std::function<void(int, std::uint64_t)>& ours,
               const std::function<void(int, std::uint64_t)>& raw) {
  constexpr int kSlices = 4;
  Pair p;
  for (int i = 0; i < kSlices; ++i) {
    p.raw += Rate(1, raw, g_seconds / kSlices) / kSlices;
    p.ours += Rate(threads, ours, g_seconds / kSlices) / kSlices;
  }
  return p;
}

void Row(const char* name, double ours, double raw) {
  std::printf("%-34s %14.0f %14.0f %8.2fx\n", name, ours, raw, ours / raw);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = "/tmp/mehdb-bench-engine";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) g_seconds = std::atof(argv[++i]);
    else base = argv[i];
  }
  std::filesystem::remove_all(base);
  const std::string value(kValueBytes, 'v');

  Raw raw(base + "/raw", MDB_NOSYNC);
  raw.Load(value);
  auto store = OpenStore(base + "/mehdb", mehdb::Durability::kNoSync);
  Load(*store, value);

  std::printf("%d keys x %zu B, %.1f s per figure, %u hardware threads\n", kKeys, kValueBytes,
              g_seconds, std::thread::hardware_concurrency());
  std::printf("%-34s %14s %14s %9s\n", "operation", "mehdb ops/s", "raw LMDB ops/s", "ratio");

  for (int threads : {1, 2}) {
    std::vector<std::mt19937> rngs;
    for (int t = 0; t < threads; ++t) rngs.emplace_back(t + 1);
    auto pick = [&](int t) { return KeyOf(static_cast<int>(rngs[t]() % kKeys)); };
    double r = Rate(threads, [&](int t, std::uint64_t) {
      if (raw.Get(pick(t)).size() != kValueBytes) std::abort();
    });
    double m = Rate(threads, [&](int t, std::uint64_t) {
      auto v = store->Get(pick(t));
      if (!v.ok() || (*v)->data.size() != kValueBytes) std::abort();
    });
    Row(threads == 1 ? "random get, 1 thread" : "random get, 2 threads", m, r);
  }

  {  // full ordered scans, in keys per second
    // With touch_values, both sides also read each value's first and last
    // byte, as any caller that uses the values must: the raw cursor alone
    // never touches value memory, while mehdb reads each value's version.
    auto scan_raw = [&](bool touch_values) {
      MDB_txn* txn;
      MDB_cursor* cur;
      Check(mdb_txn_begin(raw.env, nullptr, MDB_RDONLY, &txn), "begin");
      Check(mdb_cursor_open(txn, raw.dbi, &cur), "cursor");
      MDB_val k, v;
      std::size_t bytes = 0, n = 0;
      for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), ++n) {
        bytes += v.mv_size;
        if (touch_values) {
          const auto* p = static_cast<const unsigned char*>(v.mv_data);
          bytes += p[0] + p[v.mv_size - 1] - 2u * 'v';
        }
      }
      mdb_cursor_close(cur);
      mdb_txn_abort(txn);
      if (bytes != kKeys * kValueBytes) std::abort();
      return n;
    };
    auto scan_ours = [&](bool touch_values) {
      std::size_t bytes = 0, n = 0;
      CheckStatus(store->ForEach({}, [&](std::string_view, std::string_view v, mehdb::Seq) {
        bytes += v.size();
        if (touch_values)
          bytes += static_cast<unsigned char>(v.front()) + static_cast<unsigned char>(v.back()) -
                   2u * 'v';
        ++n;
        return true;
      }), "scan");
      if (bytes != kKeys * kValueBytes) std::abort();
      return n;
    };
    // A scan is bound by a cache miss per key, and this VM's memory speed
    // swings by 2x over seconds, so back-to-back rate windows compared
    // whichever side ran in a slow spell. Alternating one scan each, timed
    // separately, gives both sides the same spells.
    for (bool touch : {false, true}) {
      double raw_secs = 0, our_secs = 0;
      std::size_t rounds = 0;
      const auto until = Clock::now() + std::chrono::duration<double>(2 * g_seconds);
      while (Clock::now() < until || rounds < 2) {
        auto t0 = Clock::now();
        scan_raw(touch);
        auto t1 = Clock::now();
        scan_ours(touch);
        auto t2 = Clock::now();
        raw_secs += std::chrono::duration<double>(t1 - t0).count();
        our_secs += std::chrono::duration<double>(t2 - t1).count();
        ++rounds;
      }
      const double keys = static_cast<double>(rounds) * kKeys;
      Row(touch ? "full scan reading values (keys/s)" : "full ordered scan (keys/s)",
          keys / our_secs, keys / raw_secs);
    }
  }

  {  // count: mehdb answers from mdb_stat, so it must not depend on size
    auto count_raw = [&] {
      MDB_txn* txn;
      MDB_stat st;
      Check(mdb_txn_begin(raw.env, nullptr, MDB_RDONLY, &txn), "begin");
      mdb_stat(txn, raw.dbi, &st);
      mdb_txn_abort(txn);
      if (st.ms_entries != static_cast<std::size_t>(kKeys)) std::abort();
    };
    double r = Rate(1, [&](int, std::uint64_t) { count_raw(); });
    double m = Rate(1, [&](int, std::uint64_t) {
      if (*store->Count() != static_cast<std::uint64_t>(kKeys)) std::abort();
    });
    Row("count at 100,000 keys", m, r);
    auto small = OpenStore(base + "/small", mehdb::Durability::kNoSync);
    CheckStatus(small->Put("only", "1").status(), "put");
    double m1 = Rate(1, [&](int, std::uint64_t) { (void)*small->Count(); });
    Row("count at 1 key (mehdb vs mehdb@100k)", m1, m);
  }

  {  // nosync puts, one writer, one put per call
    double r = Rate(1, [&](int, std::uint64_t i) { raw.Put(KeyOf(static_cast<int>(i % kKeys)), value); });
    double m = Rate(1, [&](int, std::uint64_t i) {
      CheckStatus(store->Put(KeyOf(static_cast<int>(i % kKeys)), value).status(), "put");
    });
    Row("nosync put, 1 writer", m, r);
  }

  store.reset();
  {  // durable puts: raw LMDB commits and syncs once per put
    Raw durable(base + "/raw-sync", 0);
    durable.Load(value);
    auto raw_put = [&](int, std::uint64_t i) {
      durable.Put(KeyOf(static_cast<int>(i % kKeys)), value);
    };
    auto sync_store = OpenStore(base + "/mehdb-sync", mehdb::Durability::kSync);
    Load(*sync_store, value);  // both durable stores start with the same 100,000 keys
    std::string groups;
    double last_group = 1;  // writes per commit in the last (64-writer) row
    for (int writers : {1, 8, 64}) {
      const auto before = *sync_store->GetStats();
      const Pair p = Alternate(writers, [&](int t, std::uint64_t i) {
        CheckStatus(sync_store->Put(KeyOf(static_cast<int>((i * 64 + t) % kKeys)), value).status(), "put");
      }, raw_put);
      const auto after = *sync_store->GetStats();
      last_group = static_cast<double>(after.committed_writes - before.committed_writes) /
                   static_cast<double>(after.commits - before.commits);
      char name[64];
      std::snprintf(name, sizeof name, "durable put, %d writer%s", writers, writers > 1 ? "s" : "");
      Row(name, p.ours, p.raw);
      char group[64];
      std::snprintf(group, sizeof group, "%s%d: %.1f", groups.empty() ? "" : ", ", writers,
                    last_group);
      groups += group;
    }
    std::printf("(durable baseline: raw LMDB, 1 put per synced transaction, 1 writer, measured "
                "in slices alternating with each row; mehdb writes per group commit by "
                "writers: %s)\n", groups.c_str());
    // The ceiling for any group commit over LMDB on this disk: raw LMDB
    // putting as many random keys per synced transaction as mehdb's 64
    // writers shared per commit, from one thread.
    const int batch = static_cast<int>(last_group + 0.5);
    std::mt19937 rng(7);
    auto raw_batch = [&](int, std::uint64_t) {
      MDB_txn* txn;
      Check(mdb_txn_begin(durable.env, nullptr, 0, &txn), "begin");
      for (int i = 0; i < batch; ++i) {
        std::string k = KeyOf(static_cast<int>(rng() % kKeys));
        MDB_val key{k.size(), k.data()}, val{value.size(), const_cast<char*>(value.data())};
        Check(mdb_put(txn, durable.dbi, &key, &val, 0), "put");
      }
      Check(mdb_txn_commit(txn), "commit");
    };
    const Pair p = Alternate(64, [&](int t, std::uint64_t i) {
      CheckStatus(sync_store->Put(KeyOf(static_cast<int>((i * 64 + t) % kKeys)), value).status(), "put");
    }, raw_batch);
    char name[64];
    std::snprintf(name, sizeof name, "64 writers vs raw %d puts/sync", batch);
    Row(name, p.ours, p.raw * batch);
  }
  std::filesystem::remove_all(base);
  return 0;
}

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
// write). Both sides renew a pooled read transaction per get (mehdb keeps
// reset read transactions for reuse; the raw side keeps one per thread), and
// every durable row uses random keys on both sides.
#include <lmdb.h>
#include <mehdb/store.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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
  std::vector<MDB_txn*> readers;  // one pooled (reset) read txn per thread
  Raw(const std::string& dir, unsigned flags) : readers(64, nullptr) {
    std::filesystem::create_directories(dir);
    Check(mdb_env_create(&env), "create");
    Check(mdb_env_set_mapsize(env, std::size_t{4} << 30), "mapsize");
    Check(mdb_env_set_maxreaders(env, 256), "maxreaders");
    // MDB_NOTLS as mehdb: read transactions are pooled, not tied to threads.
    Check(mdb_env_open(env, dir.c_str(), flags | MDB_NOTLS, 0640), "open");
    MDB_txn* txn;
    Check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    Check(mdb_dbi_open(txn, nullptr, 0, &dbi), "dbi");
    Check(mdb_txn_commit(txn), "commit");
  }
  ~Raw() {
    for (MDB_txn* t : readers)
      if (t != nullptr) mdb_txn_abort(t);
    mdb_env_close(env);
  }
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
  std::string Get(int thread, const std::string& k) {
    MDB_txn*& txn = readers[thread];
    if (txn == nullptr) Check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), "begin");
    else Check(mdb_txn_renew(txn), "renew");
    MDB_val key{k.size(), const_cast<char*>(k.data())}, val;
    Check(mdb_get(txn, dbi, &key, &val), "get");
    std::string out(static_cast<const char*>(val.mv_data), val.mv_size);
    mdb_txn_reset(txn);
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
//
// With `drain` (the store's Flush: LMDB holds every acknowledged write),
// each of our slices ends with it, so the applier's deferred LMDB page
// writes never land in raw LMDB's slice. `ours` is then the acknowledged
// rate (writes / slice time), and `applied` the rate with the drain's time
// counted too: what the engine sustains once the write-ahead log's buffer
// (Options::max_unapplied_bytes) is full.
struct Pair {
  double ours = 0, raw = 0, applied = 0;
};
Pair Alternate(int threads, const std::function<void(int, std::uint64_t)>& ours,
               const std::function<void(int, std::uint64_t)>& raw, int raw_threads = 1,
               const std::function<void()>& drain = nullptr) {
  constexpr int kSlices = 4;
  Pair p;
  for (int i = 0; i < kSlices; ++i) {
    p.raw += Rate(raw_threads, raw, g_seconds / kSlices) / kSlices;
    const auto t0 = Clock::now();
    const double rate = Rate(threads, ours, g_seconds / kSlices);
    const double slice = std::chrono::duration<double>(Clock::now() - t0).count();
    p.ours += rate / kSlices;
    if (drain) drain();
    const double total = std::chrono::duration<double>(Clock::now() - t0).count();
    p.applied += rate * slice / total / kSlices;
  }
  return p;
}

// While alive, one thread per side puts random keys (no sync) at about
// `per_second` each, so reads are measured with writers running: on mehdb's
// side the writes pass through its log and pending index.
class BackgroundWriters {
 public:
  BackgroundWriters(mehdb::Store& store, struct Raw& raw, const std::string& value,
                    int per_second)
      : store_(store), raw_(raw), value_(value), pause_(std::chrono::microseconds(1000000 / per_second)) {
    threads_.emplace_back([this] { Run(true); });
    threads_.emplace_back([this] { Run(false); });
  }
  ~BackgroundWriters() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  void Run(bool ours);
  mehdb::Store& store_;
  struct Raw& raw_;
  const std::string& value_;
  std::chrono::microseconds pause_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

void BackgroundWriters::Run(bool ours) {
  std::mt19937 rng(ours ? 11 : 13);
  while (!stop_.load()) {
    const std::string k = KeyOf(static_cast<int>(rng() % kKeys));
    if (ours) CheckStatus(store_.Put(k, value_).status(), "background put");
    else raw_.Put(k, value_);
    std::this_thread::sleep_for(pause_);
  }
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

  for (bool writing : {false, true}) {
    std::unique_ptr<BackgroundWriters> writers;
    if (writing) writers = std::make_unique<BackgroundWriters>(*store, raw, value, 2000);
    for (int threads : {1, 2}) {
      std::vector<std::mt19937> rngs;
      for (int t = 0; t < threads; ++t) rngs.emplace_back(t + 1);
      auto pick = [&](int t) { return KeyOf(static_cast<int>(rngs[t]() % kKeys)); };
      // Alternating slices, as for the durable rows: the VM's memory speed
      // swings over seconds.
      const Pair p = Alternate(threads, [&](int t, std::uint64_t) {
        auto v = store->Get(pick(t));
        if (!v.ok() || (*v)->data.size() != kValueBytes) std::abort();
      }, [&](int t, std::uint64_t) {
        if (raw.Get(t, pick(t)).size() != kValueBytes) std::abort();
      }, threads);
      char name[64];
      std::snprintf(name, sizeof name, "random get, %d thread%s%s", threads, threads > 1 ? "s" : "",
                    writing ? ", writers on" : "");
      Row(name, p.ours, p.raw);
    }
  }

  {  // full ordered scans, in keys per second
    // With touch_values, both sides also read each value's first and last
    // byte, as any caller that uses the values must: the raw cursor alone
    // never touches value memory, while mehdb reads each value's version.
    // What a scan does with each value: nothing, its first and last byte
    // (two cache lines), or a copy of all of it (what a reader that uses
    // values does, as a get does, and what mehdb's checksum reads anyway).
    enum class Touch { kNone, kEnds, kCopy };
    std::string copy(kValueBytes, '\0');
    auto use_value = [&copy](Touch touch, std::string_view v, std::size_t& bytes) {
      bytes += v.size();
      if (touch == Touch::kEnds) {
        bytes += static_cast<unsigned char>(v.front()) + static_cast<unsigned char>(v.back()) -
                 2u * 'v';
      } else if (touch == Touch::kCopy) {
        copy.assign(v);
        bytes += static_cast<unsigned char>(copy[copy.size() / 2]) - 'v';
      }
    };
    auto scan_raw = [&](Touch touch) {
      MDB_txn* txn;
      MDB_cursor* cur;
      Check(mdb_txn_begin(raw.env, nullptr, MDB_RDONLY, &txn), "begin");
      Check(mdb_cursor_open(txn, raw.dbi, &cur), "cursor");
      MDB_val k, v;
      std::size_t bytes = 0, n = 0;
      for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), ++n) {
        use_value(touch, std::string_view(static_cast<const char*>(v.mv_data), v.mv_size), bytes);
      }
      mdb_cursor_close(cur);
      mdb_txn_abort(txn);
      if (bytes != kKeys * kValueBytes) std::abort();
      return n;
    };
    // ForEach checks every value against its checksum before handing it
    // out, so it reads each value's bytes; a Scanner whose entries are not
    // verified (what a key listing does: mehdbd's /keys) reads keys only,
    // the same work as the raw cursor.
    auto scan_ours = [&](Touch touch) {
      std::size_t bytes = 0, n = 0;
      CheckStatus(store->ForEach({}, [&](std::string_view, std::string_view v, mehdb::Seq) {
        use_value(touch, v, bytes);
        ++n;
        return true;
      }), "scan");
      if (bytes != kKeys * kValueBytes) std::abort();
      return n;
    };
    auto scan_ours_keys = [&] {
      std::size_t bytes = 0, n = 0;
      auto scanner = store->NewScanner({});
      CheckStatus(scanner.status(), "scanner");
      for (;;) {
        auto batch = scanner->Next();
        CheckStatus(batch.status(), "scan");
        if (batch->empty()) break;
        for (const mehdb::ScanEntry& e : *batch) bytes += e.value().size();
        n += batch->size();
      }
      if (bytes != kKeys * kValueBytes) std::abort();
      return n;
    };
    // A scan is bound by a cache miss per key, and this VM's memory speed
    // swings by 2x over seconds, so back-to-back rate windows compared
    // whichever side ran in a slow spell. Alternating one scan each, timed
    // separately, gives both sides the same spells.
    struct Pass {
      const char* name;
      bool keys_only;
      Touch touch;
      bool writing;
    };
    const Pass passes[] = {
        {"key scan, no value read (Scanner)", true, Touch::kNone, false},
        {"full ordered scan (keys/s)", false, Touch::kNone, false},
        {"full scan reading values (keys/s)", false, Touch::kEnds, false},
        {"full scan copying every value", false, Touch::kCopy, false},
        {"key scan, no value read, writers on", true, Touch::kNone, true},
        {"full scan reading values, writers on", false, Touch::kEnds, true},
        {"full scan copying values, writers on", false, Touch::kCopy, true},
    };
    for (const Pass& pass : passes) {
      std::unique_ptr<BackgroundWriters> writers;
      if (pass.writing) writers = std::make_unique<BackgroundWriters>(*store, raw, value, 2000);
      double raw_secs = 0, our_secs = 0;
      std::size_t rounds = 0;
      const auto until = Clock::now() + std::chrono::duration<double>(2 * g_seconds);
      while (Clock::now() < until || rounds < 2) {
        auto t0 = Clock::now();
        scan_raw(pass.touch);
        auto t1 = Clock::now();
        if (pass.keys_only) scan_ours_keys();
        else scan_ours(pass.touch);
        auto t2 = Clock::now();
        raw_secs += std::chrono::duration<double>(t1 - t0).count();
        our_secs += std::chrono::duration<double>(t2 - t1).count();
        ++rounds;
      }
      const double keys = static_cast<double>(rounds) * kKeys;
      Row(pass.name, keys / our_secs, keys / raw_secs);
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
  {  // durable puts, random keys on both sides
    Raw durable(base + "/raw-sync", 0);
    durable.Load(value);
    std::mt19937 raw_rng(7);
    // Raw LMDB putting `batch` random keys per synced transaction.
    auto raw_puts = [&](int batch) {
      return [&, batch](int, std::uint64_t) {
        MDB_txn* txn;
        Check(mdb_txn_begin(durable.env, nullptr, 0, &txn), "begin");
        for (int i = 0; i < batch; ++i) {
          std::string k = KeyOf(static_cast<int>(raw_rng() % kKeys));
          MDB_val key{k.size(), k.data()}, val{value.size(), const_cast<char*>(value.data())};
          Check(mdb_put(txn, durable.dbi, &key, &val, 0), "put");
        }
        Check(mdb_txn_commit(txn), "commit");
      };
    };
    auto sync_store = OpenStore(base + "/mehdb-sync", mehdb::Durability::kSync);
    Load(*sync_store, value);  // both durable stores start with the same 100,000 keys
    std::vector<std::mt19937> rngs;
    for (int t = 0; t < 64; ++t) rngs.emplace_back(100 + t);
    auto our_put = [&](int t, std::uint64_t) {
      CheckStatus(sync_store->Put(KeyOf(static_cast<int>(rngs[t]() % kKeys)), value).status(),
                  "put");
    };
    std::string groups;
    double last_group = 1;  // writes per group commit in the last (64-writer) row
    auto drain = [&] { CheckStatus(sync_store->Flush(), "flush"); };
    for (int writers : {1, 8, 64}) {
      const auto before = *sync_store->GetStats();
      const Pair p = Alternate(writers, our_put, raw_puts(1), 1, drain);
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
    // The ceiling for any group commit over LMDB on this disk: raw LMDB's
    // best rate over batch sizes, random keys, one thread, each size
    // alternating with mehdb's 64 writers.
    double best_raw = 0, best_ours = 0;
    int best_batch = 1;
    double best_applied = 0;
    for (int batch : {8, 32, 128, 512, 4096}) {
      const Pair p = Alternate(64, our_put, raw_puts(batch), 1, drain);
      std::printf("  (raw LMDB at %d random puts per synced transaction: %.0f puts/s; mehdb "
                  "alongside: %.0f acknowledged, %.0f applied)\n",
                  batch, p.raw * batch, p.ours, p.applied);
      if (p.raw * batch > best_raw) {
        best_raw = p.raw * batch;
        best_ours = p.ours;
        best_applied = p.applied;
        best_batch = batch;
      }
    }
    char name[64];
    std::snprintf(name, sizeof name, "64 writers vs raw best (%d puts/sync)", best_batch);
    Row(name, best_ours, best_raw);
    std::snprintf(name, sizeof name, "  same, applied to LMDB (drain timed)");
    Row(name, best_applied, best_raw);
    // The disk's sequential ceiling: appending the same bytes per put (key,
    // value and 24 bytes of framing) to a file with one fdatasync per group
    // of mehdb's group size.
    const int group = std::max(1, static_cast<int>(last_group + 0.5));
    const std::string seq_path = base + "/sequential.log";
    const int fd = ::open(seq_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) std::abort();
    const std::string chunk(static_cast<std::size_t>(group) * (KeyOf(0).size() + kValueBytes + 24), 's');
    std::uint64_t written = 0;
    auto sequential = [&](int, std::uint64_t) {
      if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size()) ||
          ::fdatasync(fd) != 0)
        std::abort();
      written += chunk.size();
      if (written > (std::uint64_t{256} << 20)) {  // keep the file bounded
        if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) std::abort();
        written = 0;
      }
    };
    const Pair seq = Alternate(64, our_put, sequential, 1, drain);
    std::snprintf(name, sizeof name, "64 writers vs write+fdatasync (%d/sync)", group);
    Row(name, seq.ours, seq.raw * group);
    Row("  same, applied to LMDB (drain timed)", seq.applied, seq.raw * group);
    ::close(fd);
  }
  std::filesystem::remove_all(base);
  return 0;
}

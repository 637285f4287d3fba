// SPDX-License-Identifier: MIT
//
// bench/engine/open_bench: how long Store::Open (and one get) takes on a
// store whose write-ahead log retains 100,000 records of 1 KiB, one per
// durable write as a daemon's log holds them: with the segments' index
// files, and with them removed (Open then walks every retained record to
// find where each starts); against raw LMDB opening the same data file and
// reading the same key. Every open starts with the store's files dropped
// from the page cache (fdatasync, then posix_fadvise DONTNEED: no root
// needed), as after a pod moves to another node, and the three sides take
// turns in each round: this VM's disk speed swings from second to second.
//
//   build/bench/engine/open_bench [DIR] [--rounds N]
#include <fcntl.h>
#include <lmdb.h>
#include <mehdb/store.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr int kKeys = 100000;
constexpr std::size_t kValueBytes = 1024;
const char* const kProbeKey = "key0050000";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "open_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string KeyOf(int i) {
  char key[16];
  std::snprintf(key, sizeof key, "key%07d", i);
  return key;
}

// Writes back and then evicts every file under `dir` from the page cache.
void DropFromCache(const std::string& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Die("opening " + e.path().string());
    if (::fdatasync(fd) != 0 || ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
      Die("evicting " + e.path().string());
    ::close(fd);
  }
}

std::vector<fs::path> IndexFiles(const std::string& wal) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(wal))
    if (e.path().extension() == ".idx") out.push_back(e.path());
  return out;
}

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double OpenMehdb(const std::string& dir) {
  DropFromCache(dir);
  const auto t0 = Clock::now();
  auto store = mehdb::Store::Open(dir);
  if (!store.ok()) Die(store.status().ToString());
  auto v = (*store)->Get(kProbeKey);
  if (!v.ok() || !v->has_value() || (*v)->data.size() != kValueBytes) Die("probe get");
  return MsSince(t0);
}

double OpenRaw(const std::string& dir) {
  DropFromCache(dir);
  const auto t0 = Clock::now();
  MDB_env* env;
  MDB_txn* txn;
  MDB_dbi dbi;
  if (mdb_env_create(&env) != 0) Die("mdb_env_create");
  mdb_env_set_maxdbs(env, 4);
  mdb_env_set_mapsize(env, std::size_t{1} << 30);
  if (mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0640) != 0) Die("mdb_env_open");
  if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0 || mdb_dbi_open(txn, "kv", 0, &dbi) != 0)
    Die("raw read transaction");
  MDB_val key{std::strlen(kProbeKey), const_cast<char*>(kProbeKey)}, val;
  if (mdb_get(txn, dbi, &key, &val) != 0) Die("raw get");
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return MsSince(t0);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = "/tmp/mehdb-bench-open";
  int rounds = 7;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else base = argv[i];
  }
  if (rounds < 1) Die("--rounds must be at least 1");
  fs::remove_all(base);
  const std::string dir = base + "/store", wal = dir + "/wal", saved = base + "/index-files";

  {  // one durable put per record, from 32 writers, as a daemon's clients do
    auto store = mehdb::Store::Open(dir);
    if (!store.ok()) Die(store.status().ToString());
    const std::string value(kValueBytes, 'v');
    std::atomic<int> next{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < 32; ++t)
      writers.emplace_back([&] {
        for (int i; (i = next++) < kKeys;)
          if (!(*store)->Put(KeyOf(i), value).ok()) Die("put");
      });
    for (auto& w : writers) w.join();
    if (!(*store)->Flush().ok()) Die("flush");
  }
  OpenMehdb(dir);  // the segment left at the close gets its index here
  fs::create_directories(saved);
  std::size_t segments = 0, retained = 0;
  for (const auto& e : fs::directory_iterator(wal))
    if (e.path().extension() == ".log") ++segments;
  for (const fs::path& p : IndexFiles(wal)) fs::copy_file(p, saved + "/" + p.filename().string());
  {
    auto store = mehdb::Store::Open(dir);
    if (!store.ok()) Die(store.status().ToString());
    retained = static_cast<std::size_t>((*store)->GetStats()->log_entries);
  }
  std::printf("%d keys x %zu B, one durable put each; %zu change-log records retained in %zu "
              "segments (%zu index files); %d rounds, page cache dropped before each open\n",
              kKeys, kValueBytes, retained, segments, IndexFiles(wal).size(), rounds);

  std::vector<double> indexed, walked, raw;
  for (int r = 0; r < rounds; ++r) {
    for (int side = 0; side < 3; ++side) {
      switch ((side + r) % 3) {
        case 0:
          for (const auto& e : fs::directory_iterator(saved))
            fs::copy_file(e.path(), wal + "/" + e.path().filename().string(),
                          fs::copy_options::overwrite_existing);
          indexed.push_back(OpenMehdb(dir));
          break;
        case 1:
          for (const fs::path& p : IndexFiles(wal)) fs::remove(p);
          walked.push_back(OpenMehdb(dir));
          break;
        default:
          raw.push_back(OpenRaw(dir));
      }
    }
  }
  std::printf("%-44s %10s %10s\n", "open + one get (median ms)", "ms", "ratio");
  std::printf("%-44s %10.1f %9.2fx\n", "mehdb, with index files", Median(indexed),
              Median(indexed) / Median(raw));
  std::printf("%-44s %10.1f %9.2fx\n", "mehdb, index files removed (segments walked)",
              Median(walked), Median(walked) / Median(raw));
  std::printf("%-44s %10.1f %9.2fx\n", "raw LMDB (mdb_env_open, the same data.mdb)", Median(raw),
              1.0);
  std::printf("(ratios against raw LMDB; with vs without index files: %.2fx the time)\n",
              Median(indexed) / Median(walked));
  fs::remove_all(base);
  return 0;
}

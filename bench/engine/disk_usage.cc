// SPDX-License-Identifier: MIT
//
// bench/engine/disk_usage: what a store of 100,000 x 1 KiB values takes on
// disk once writes settle, and what takes it. 64 durable writers put every
// key once in random order, then 100,000 random overwrites; Flush, close;
// then the data file is opened read-only with raw LMDB and its pages are
// counted: the kv tree and LMDB's free list; plus the write-ahead log's
// segments, which hold the change log kept for followers (the records the
// retention bounds keep) and, around them, records already trimmed from
// it that share a segment with retained ones, and preallocated space.
//
//   build/bench/engine/disk_usage [DIR] [--apply-batch BYTES]
//                                 [--log-retain-bytes BYTES]
#include <lmdb.h>
#include <mehdb/store.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kKeys = 100000;
constexpr int kWriters = 64;

std::string KeyOf(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "key%08d", i);
  return buf;
}

void Fail(const char* what, const mehdb::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

// Megabytes in the pages of one named database of `txn`.
double DatabaseMb(MDB_txn* txn, const char* name, std::size_t page) {
  MDB_dbi dbi;
  MDB_stat st;
  if (mdb_dbi_open(txn, name, 0, &dbi) != 0 || mdb_stat(txn, dbi, &st) != 0) return 0;
  return static_cast<double>(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
         static_cast<double>(page) / 1e6;
}

// Megabytes on LMDB's free list (dbi 0: each record a page-number list
// whose first word is its length).
double FreeMb(MDB_txn* txn, std::size_t page) {
  MDB_cursor* cursor;
  if (mdb_cursor_open(txn, 0, &cursor) != 0) return 0;
  std::size_t pages = 0;
  MDB_val k, d;
  for (int rc = mdb_cursor_get(cursor, &k, &d, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &d, MDB_NEXT)) {
    std::size_t n = 0;
    if (d.mv_size >= sizeof n) std::memcpy(&n, d.mv_data, sizeof n);
    pages += n;
  }
  mdb_cursor_close(cursor);
  return static_cast<double>(pages) * static_cast<double>(page) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/mehdb-bench-disk";
  mehdb::Options options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--apply-batch") == 0 && i + 1 < argc)
      options.apply_batch_bytes = std::strtoull(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--log-retain-bytes") == 0 && i + 1 < argc)
      options.log_retain_bytes = std::strtoull(argv[++i], nullptr, 10);
    else
      dir = argv[i];
  }
  std::filesystem::remove_all(dir);
  std::uint64_t retained_bytes = 0, retained_entries = 0;
  {
    auto store = mehdb::Store::Open(dir, options);
    if (!store.ok()) Fail("open", store.status());
    const std::string value(1024, 'v');
    std::vector<int> order(kKeys);
    for (int i = 0; i < kKeys; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(1));
    for (int pass = 0; pass < 2; ++pass) {
      std::atomic<int> next{0};
      std::vector<std::thread> writers;
      for (int t = 0; t < kWriters; ++t)
        writers.emplace_back([&, t] {
          std::mt19937 rng(static_cast<unsigned>(t + 100 * pass));
          for (int i; (i = next++) < kKeys;) {
            const int k = pass == 0 ? order[i] : static_cast<int>(rng() % kKeys);
            if (auto r = (*store)->Put(KeyOf(k), value); !r.ok()) Fail("put", r.status());
          }
        });
      for (auto& w : writers) w.join();
    }
    if (mehdb::Status s = (*store)->Flush(); !s.ok()) Fail("flush", s);
    auto st = (*store)->GetStats();
    if (!st.ok()) Fail("stats", st.status());
    retained_bytes = st->log_bytes;
    retained_entries = st->log_entries;
  }
  std::uintmax_t wal = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal"))
    wal += std::filesystem::file_size(e.path());
  const std::uintmax_t data = std::filesystem::file_size(dir + "/data.mdb");

  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 4) != 0 ||
      mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0) != 0 ||
      mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0) {
    std::fprintf(stderr, "cannot open %s read-only with LMDB\n", dir.c_str());
    return 1;
  }
  MDB_stat st;
  mdb_env_stat(env, &st);
  std::printf("apply batch %llu B, log retain %llu B: data.mdb %.1f MB = kv %.1f MB + free pages "
              "%.1f MB (+ meta); write-ahead log %.1f MB (change log %.1f MB in %llu records, "
              "the rest trimmed records and preallocation); total %.1f MB\n",
              static_cast<unsigned long long>(options.apply_batch_bytes),
              static_cast<unsigned long long>(options.log_retain_bytes),
              static_cast<double>(data) / 1e6, DatabaseMb(txn, "kv", st.ms_psize),
              FreeMb(txn, st.ms_psize), static_cast<double>(wal) / 1e6,
              static_cast<double>(retained_bytes) / 1e6,
              static_cast<unsigned long long>(retained_entries),
              static_cast<double>(data + wal) / 1e6);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  std::filesystem::remove_all(dir);
  return 0;
}

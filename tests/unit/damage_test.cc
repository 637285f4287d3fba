// SPDX-License-Identifier: MIT
//
// A damaged data file is an error with a message, never a crash or a wrong
// answer: real stores, damaged on disk while closed, then opened and read.
// Also the migration of format-1 stores (values without checksums), built
// here with LMDB directly the way the previous release wrote them.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <mehdb/store.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <string>

#include "lmdb_damage.h"
#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

// The stored form is u64 version | u32 crc32c | value.
constexpr std::uint32_t kHeader = 12;
const std::string kVictim = "victim";

std::string ValueFor(int i) { return std::string(1000, static_cast<char>('a' + i % 26)); }

// A closed store with 300 keys of 1000 bytes plus "victim" (1000 bytes).
std::string MakeStore(const TempDir& dir) {
  const std::string path = dir.Sub("store");
  // Each write its own LMDB commit (the second frees pages of the first),
  // the file layout the cases below damage.
  Options o;
  o.apply_delay = std::chrono::milliseconds(0);
  auto store = OpenOrDie(path, o);
  EXPECT_TRUE(store);
  Batch batch;
  for (int i = 0; i < 300; ++i) batch.Put("key-" + std::to_string(1000 + i), ValueFor(i));
  EXPECT_TRUE(store->Write(batch).ok());
  EXPECT_TRUE(store->Flush().ok());  // its own commit, whatever the timing
  EXPECT_TRUE(store->Put(kVictim, std::string(1000, 'V')).ok());
  return path;
}

void ExpectDataLoss(const Status& s, const std::string& needle) {
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
}

TEST(Damage, TruncatedDataFileIsRefusedNamingTheFile) {
  TempDir dir;
  const std::string path = MakeStore(dir);
  const std::string data = path + "/data.mdb";
  const auto full = std::filesystem::file_size(data);
  ASSERT_GT(full, 16u * 4096);
  // Cut to half, to three pages, to a part of the first page, to nothing.
  for (const std::uintmax_t size : {full / 2, std::uintmax_t{3 * 4096}, std::uintmax_t{100},
                                    std::uintmax_t{0}}) {
    std::filesystem::resize_file(data, size);
    auto store = Store::Open(path);
    ASSERT_FALSE(store.ok()) << "opened a data file cut to " << size << " bytes";
    ExpectDataLoss(store.status(), data);
  }
}

// LMDB's file may end before the last page its meta page counts: pages a
// transaction allocated and freed again before committing go to the free
// list unwritten. Such a store opens; cut one page more and it is refused.
TEST(Damage, UnwrittenFreePagesAtTheEndAreNotACutFile) {
  TempDir dir;
  const std::string path = MakeStore(dir);
  const std::string data = path + "/data.mdb";
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0640), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi kv;
  ASSERT_EQ(mdb_dbi_open(txn, "kv", 0, &kv), 0);
  // A 40 KiB value on fresh overflow pages at the end of the file, dropped
  // in the same transaction (so the keys are as they were).
  const std::string key(8, '\xff'), big(40 << 10, 'b');
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{big.size(), const_cast<char*>(big.data())};
  ASSERT_EQ(mdb_put(txn, kv, &k, &v, 0), 0);
  ASSERT_EQ(mdb_del(txn, kv, &k, nullptr), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env, &info);
  mdb_env_stat(env, &st);
  mdb_env_close(env);
  const std::uint64_t counted = (std::uint64_t{info.me_last_pgno} + 1) * st.ms_psize;
  ASSERT_LT(std::filesystem::file_size(data), counted) << "LMDB wrote the freed pages";
  {
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    EXPECT_EQ((*store->Get("key-1299"))->data, ValueFor(299));
    EXPECT_TRUE(store->ForEach({}, [](std::string_view, std::string_view, Seq) {
      return true;
    }).ok());
  }
  // One page more, and a page in use is gone.
  std::filesystem::resize_file(data, std::filesystem::file_size(data) / st.ms_psize * st.ms_psize -
                                         st.ms_psize);
  auto store = Store::Open(path);
  ASSERT_FALSE(store.ok());
  ExpectDataLoss(store.status(), "the file was cut short");
}

TEST(Damage, OutOfRangeValueSizeIsDataLossNotACrash) {
  // A size a little too large (inside the file: the checksum catches it),
  // 8 MiB (past the end of the file, inside the map) and 2 GiB (past the
  // map): each read is kDataLoss and the other keys still read.
  for (const std::uint32_t bad : {kHeader + 1000 + 100, 8u << 20, 0x80000000u}) {
    TempDir dir;
    const std::string path = MakeStore(dir);
    ASSERT_GE(testing::SetValueSize(path + "/data.mdb", kVictim, kHeader + 1000, bad), 1);
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    auto got = store->Get(kVictim);
    ASSERT_FALSE(got.ok()) << "size " << bad << " read as " << (*got)->data.size() << " bytes";
    ExpectDataLoss(got.status(), "data.mdb");
    auto other = store->Get("key-1007");
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    EXPECT_EQ((*other)->data, ValueFor(7));
    // A scan reaches the damaged key and stops there with kDataLoss.
    std::size_t seen = 0;
    Status scanned = store->ForEach({}, [&](std::string_view, std::string_view, Seq) {
      ++seen;
      return true;
    });
    ExpectDataLoss(scanned, "");
    // Keys are handed out 64 at a time and the batch holding "victim" is
    // the error, so the keys before it in that batch are not visited.
    EXPECT_GE(seen, 256u);
    EXPECT_LE(seen, 300u);  // every "key-..." sorts before "victim"
    // The rest of the store still takes writes.
    EXPECT_TRUE(store->Put("new", "x").ok());
  }
}

TEST(Damage, FlippedByteIsDataLossOnEveryReadPath) {
  // A byte of the value, then a byte of the version.
  for (const std::size_t offset : {std::size_t{kHeader + 500}, std::size_t{3}}) {
    TempDir dir;
    const std::string path = MakeStore(dir);
    ASSERT_GE(testing::FlipDataByte(path + "/data.mdb", kVictim, kHeader + 1000, offset), 1);
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    ExpectDataLoss(store->Get(kVictim).status(), "checksum");
    ScanOptions victim_only;
    victim_only.prefix = "vic";
    ExpectDataLoss(store->Scan(victim_only).status(), "checksum");
    ExpectDataLoss(store->ExportSnapshot([](std::string_view) { return true; }), "checksum");
    // A compare-and-set on the damaged key neither applies nor passes for a
    // mismatch.
    Batch cas;
    cas.Expect(kVictim, 301).Put(kVictim, "new");
    ExpectDataLoss(store->Write(cas).status(), "checksum");
    // A Scanner hands the entry out (its bytes lie inside the file) and
    // Verify tells it is damaged.
    auto scanner = store->NewScanner(victim_only);
    ASSERT_TRUE(scanner.ok());
    auto batch = scanner->Next();
    ASSERT_TRUE(batch.ok());
    ASSERT_EQ(batch->size(), 1u);
    ExpectDataLoss((*batch)[0].Verify(), "checksum");
    // Undamaged keys read, and overwriting the damaged one repairs it.
    EXPECT_EQ((*store->Get("key-1299"))->data, ValueFor(299));
    ASSERT_TRUE(store->Put(kVictim, "fresh").ok());
    EXPECT_EQ((*store->Get(kVictim))->data, "fresh");
  }
}

// ---- format 1 -> 2 ----------------------------------------------------------

std::string U64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xFF);
  return out;
}

// Writes a format-1 store: meta records as the previous release wrote them
// and values as u64 version | bytes.
void WriteFormat1Store(const std::string& dir, int keys) {
  std::filesystem::create_directories(dir);
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  mdb_env_set_mapsize(env, 256u << 20);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0640), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi kv, log, meta;
  ASSERT_EQ(mdb_dbi_open(txn, "kv", MDB_CREATE, &kv), 0);
  ASSERT_EQ(mdb_dbi_open(txn, "log", MDB_CREATE, &log), 0);
  ASSERT_EQ(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
  auto put = [&](MDB_dbi dbi, const std::string& k, const std::string& v) {
    MDB_val key{k.size(), const_cast<char*>(k.data())};
    MDB_val val{v.size(), const_cast<char*>(v.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &key, &val, 0), 0);
  };
  put(meta, "format", U64(1));
  put(meta, "history", std::string(16, '\x42'));
  put(meta, "last_seq", U64(keys));
  put(meta, "first_log_seq", U64(keys + 1));
  put(meta, "log_bytes", U64(0));
  for (int i = 0; i < keys; ++i)
    put(kv, "k" + std::to_string(100000 + i), U64(i + 1) + "value-" + std::to_string(i));
  // A change log as formats 1 and 2 kept it in LMDB (its last records; the
  // migration to format 3 drops the database whatever it holds).
  for (int seq = std::max(1, keys - 50); seq <= keys; ++seq) {
    std::string be;
    for (int shift = 56; shift >= 0; shift -= 8)
      be.push_back(static_cast<char>((static_cast<std::uint64_t>(seq) >> shift) & 0xff));
    put(log, be, std::string(64, 'r'));
  }
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(Damage, Format1StoreIsMigratedWithChecksums) {
  TempDir dir;
  const std::string path = dir.Sub("old");
  const int keys = 9000;  // more than one migration chunk
  WriteFormat1Store(path, keys);
  {
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(*store->Count(), static_cast<std::uint64_t>(keys));
    EXPECT_EQ(store->LastSeq(), static_cast<Seq>(keys));
    for (int i : {0, 4095, 4096, 8191, 8999}) {
      auto v = store->Get("k" + std::to_string(100000 + i));
      ASSERT_TRUE(v.ok() && v->has_value()) << i << " " << v.status().ToString();
      EXPECT_EQ((*v)->data, "value-" + std::to_string(i));
      EXPECT_EQ((*v)->version, static_cast<Seq>(i + 1));
    }
    std::size_t seen = 0;
    ASSERT_TRUE(store->ForEach({}, [&](std::string_view, std::string_view v, Seq) {
      EXPECT_EQ(v.substr(0, 6), "value-");
      ++seen;
      return true;
    }).ok());
    EXPECT_EQ(seen, static_cast<std::size_t>(keys));
    EXPECT_EQ(*store->Put("k100000", "after"), static_cast<Seq>(keys + 1));
  }
  // It is a format-3 store now: LMDB's copy of the change log is gone (the
  // write-ahead log's segments are the log).
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_RDONLY, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
    MDB_dbi log, meta;
    EXPECT_EQ(mdb_dbi_open(txn, "log", 0, &log), MDB_NOTFOUND);
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    for (const std::string key : {"first_log_seq", "log_bytes", "format"}) {
      MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
      const int rc = mdb_get(txn, meta, &k, &v);
      if (key == "format") {
        ASSERT_EQ(rc, 0);
        EXPECT_EQ(std::string(static_cast<char*>(v.mv_data), v.mv_size), U64(3));
      } else {
        EXPECT_EQ(rc, MDB_NOTFOUND) << key;
      }
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
  }
  // Reopened (nothing migrates twice), checksums now catch damage, and the
  // log serves what was written since the migration.
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_EQ((*store->Get("k100000"))->data, "after");
  EXPECT_EQ((*store->Get("k108999"))->data, "value-8999");
  auto log = store->ReadLog(static_cast<Seq>(keys), 1 << 20);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log->to, static_cast<Seq>(keys + 1));
  EXPECT_EQ(store->ReadLog(0, 1 << 20).status().code(), Code::kOutOfRange)
      << "records the old log held are not carried over";
  store.reset();
  ASSERT_GE(testing::FlipDataByte(path + "/data.mdb", "k100005", kHeader + 7, kHeader + 2), 1);
  store = OpenOrDie(path);
  ASSERT_TRUE(store);
  ExpectDataLoss(store->Get("k100005").status(), "checksum");
}

// A migration killed part way resumes where it stopped: crash_writer opens
// (and so migrates) a format-1 store and is SIGKILLed at a few moments;
// every value reads back, checksummed, afterwards.
TEST(Damage, MigrationKilledPartWayResumes) {
  const char* writer = std::getenv("MEHDB_CRASH_WRITER");
  if (writer == nullptr) writer = "./crash_writer";
  for (const int delay_ms : {5, 30, 120}) {
    TempDir dir;
    const std::string path = dir.Sub("old");
    const int keys = 40000;  // ten chunks
    WriteFormat1Store(path, keys);
    const pid_t pid = fork();
    if (pid == 0) {
      if (std::freopen("/dev/null", "w", stdout) == nullptr) _exit(126);
      execl(writer, writer, path.c_str(), "1", nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    std::size_t seen = 0;
    Status scanned = store->ForEach({}, [&](std::string_view k, std::string_view v, Seq ver) {
      if (k.starts_with("k1")) {
        const int i = std::stoi(std::string(k.substr(1))) - 100000;
        EXPECT_EQ(v, "value-" + std::to_string(i)) << k;
        EXPECT_EQ(ver, static_cast<Seq>(i + 1)) << k;
        ++seen;
      }
      return true;
    });
    EXPECT_TRUE(scanned.ok()) << delay_ms << " ms: " << scanned.ToString();
    EXPECT_EQ(seen, static_cast<std::size_t>(keys)) << delay_ms << " ms";
  }
}

TEST(Damage, NewerFormatIsRefused) {
  TempDir dir;
  const std::string path = dir.Sub("new");
  WriteFormat1Store(path, 1);
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    const std::string k = "format", v = U64(4);
    MDB_val key{k.size(), const_cast<char*>(k.data())};
    MDB_val val{v.size(), const_cast<char*>(v.data())};
    ASSERT_EQ(mdb_put(txn, meta, &key, &val, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto store = Store::Open(path);
  ASSERT_FALSE(store.ok());
  ExpectDataLoss(store.status(), "unsupported store format 4");
}

}  // namespace
}  // namespace mehdb

// SPDX-License-Identifier: MIT
//
// Power-loss crash states. A SIGKILL keeps the page cache, so it cannot show
// what a power cut does; this test can. crash_state_writer runs under the
// io_trace LD_PRELOAD library (io_trace_shim.cc), which records every write
// and sync the store makes to its data file and its write-ahead log's
// segment files (and their creation, preallocation and removal), in order,
// together with the writer's acknowledgements. From that trace the test
// rebuilds the files as a power cut at any point could have left them: a
// segment created or unlinked since the last sync of the log directory may
// or may not exist, and within each file everything a sync
// (or an O_DSYNC write) made durable is there, and of the writes issued
// since the file's last sync, any subset is lost, 4 KiB block by 4 KiB block
// and in any order (a block keeps some prefix of the writes that touched
// it, as page write-back would leave it). Each state must open, or be
// refused with kDataLoss, never crash; and when it opens, every
// acknowledged write must be there (a write issued but not acknowledged
// may or may not be).
//
// LMDB never truncates, renames or msyncs its data file without
// MDB_WRITEMAP (which the store does not use); the test fails if the trace
// shows any of them, since the model here does not cover them.
#include <gtest/gtest.h>
#include <mehdb/store.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crash_state_model.h"
#include "lmdb_damage.h"
#include "preloaded_child.h"
#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::TempDir;

constexpr std::uint64_t kBlock = 4096;

struct Record {
  char kind;
  std::string path;
  std::uint64_t offset;
  std::uint64_t length;  // of data, or of a preallocation ('F')
  std::string data;
};

std::vector<Record> ParseTrace(const std::string& bytes) {
  std::vector<Record> out;
  std::size_t at = 0;
  while (at + 21 <= bytes.size()) {
    Record r;
    r.kind = bytes[at];
    std::uint32_t path_len;
    std::uint64_t length;
    std::memcpy(&path_len, bytes.data() + at + 1, 4);
    std::memcpy(&r.offset, bytes.data() + at + 5, 8);
    std::memcpy(&length, bytes.data() + at + 13, 8);
    at += 21;
    r.length = length;
    const bool has_data = r.kind == 'W' || r.kind == 'D' || r.kind == 'R' || r.kind == 'A';
    if (at + path_len + (has_data ? length : 0) > bytes.size()) break;
    r.path = bytes.substr(at, path_len);
    at += path_len;
    if (has_data) {
      r.data = bytes.substr(at, length);
      at += length;
    }
    out.push_back(std::move(r));
  }
  EXPECT_EQ(at, bytes.size()) << "the trace ends inside a record";
  return out;
}

// One write's part inside one 4 KiB block.
struct Chunk {
  std::size_t record;  // index in the trace
  std::uint64_t offset;
  std::string_view data;
  bool durable;        // written through an O_DSYNC descriptor
};

// What one key may hold: nullopt for absent, else (gen, size).
using KeyState = std::optional<std::pair<unsigned, std::size_t>>;

struct KeyHistory {
  std::vector<KeyState> after;  // the state after each of its writes, in order
  std::vector<std::size_t> ack_record;  // the trace index acknowledging each
};

// Rebuilds one file as a power cut at trace index `point` could have left
// it, from its records in [from, point): everything a sync made durable is
// there, and of the writes issued since the file's last sync any subset is
// lost, 4 KiB block by 4 KiB block (a block keeps some prefix of the writes
// that touched it, as page write-back would leave it). Preallocation
// ('F') extends the file with zeros once synced. A truncation ('T': a
// segment left for the next gives back its preallocated tail) is either
// there or not until a sync; no write follows it in the same file. mode:
// 0 random, 1 all unsynced writes lost, 2 all kept. Sets `pending` if
// anything was unsynced.
std::string BuildFile(const std::vector<Record>& trace, const std::string& path,
                      std::size_t from, std::size_t point, int mode, std::mt19937_64& rng,
                      bool& pending) {
  std::size_t last_sync = from;  // index + 1 of the last sync before point
  for (std::size_t i = from; i < point; ++i)
    if (trace[i].path == path && trace[i].kind == 'S') last_sync = i + 1;
  std::map<std::uint64_t, std::vector<Chunk>> blocks;
  std::uint64_t size = 0;
  std::optional<std::uint64_t> cut;  // a truncation that took effect
  for (std::size_t i = from; i < point; ++i) {
    const Record& r = trace[i];
    if (r.path != path) continue;
    if (r.kind == 'T') {
      const bool durable = i < last_sync;
      if (!durable) pending = true;
      if (durable || mode == 2 || (mode == 0 && rng() % 2 == 0))
        cut = std::min(cut.value_or(r.offset), r.offset);
      continue;
    }
    EXPECT_FALSE(cut.has_value() && (r.kind == 'W' || r.kind == 'D' || r.kind == 'F'))
        << "a write after a truncation of " << path << ": the model does not cover it";
    if (r.kind == 'F') {
      const bool durable = i < last_sync;
      if (!durable) pending = true;
      if (durable || mode == 2 || (mode == 0 && rng() % 2 == 0))
        size = std::max<std::uint64_t>(size, r.offset + r.length);
      continue;
    }
    if (r.kind != 'W' && r.kind != 'D') continue;
    for (std::uint64_t at = r.offset; at < r.offset + r.data.size();) {
      const std::uint64_t end = std::min<std::uint64_t>(r.offset + r.data.size(),
                                                        (at / kBlock + 1) * kBlock);
      blocks[at / kBlock].push_back(
          {i, at, std::string_view(r.data).substr(at - r.offset, end - at), r.kind == 'D'});
      at = end;
    }
  }
  std::string file;
  for (const auto& [b, chunks] : blocks) {
    // Writes before the last sync, or durable ones, and everything before
    // them in the block, survive.
    std::size_t certain = 0;
    for (std::size_t j = 0; j < chunks.size(); ++j)
      if (chunks[j].record < last_sync || chunks[j].durable) certain = j + 1;
    if (certain < chunks.size()) pending = true;
    std::size_t keep = chunks.size();
    if (mode == 1) keep = certain;
    if (mode == 0) keep = certain + rng() % (chunks.size() - certain + 1);
    for (std::size_t j = 0; j < keep; ++j) {
      const Chunk& c = chunks[j];
      if (file.size() < c.offset + c.data.size()) file.resize(c.offset + c.data.size());
      std::memcpy(file.data() + c.offset, c.data.data(), c.data.size());
      size = std::max<std::uint64_t>(size, c.offset + c.data.size());
    }
    // A block whose writes are all lost may still be inside the file's
    // synced size (an earlier write extended it): the file keeps that size.
    for (std::size_t j = 0; j < chunks.size(); ++j)
      if (chunks[j].record < last_sync || chunks[j].durable)
        size = std::max<std::uint64_t>(size, chunks[j].offset + chunks[j].data.size());
  }
  if (cut) size = std::min(size, *cut);
  file.resize(size);
  return file;
}

// The store's files (path -> bytes) in a crash state at trace index
// `point`: the data file, and each write-ahead log segment that exists
// there. A segment created, or unlinked, since the log directory's last
// sync may or may not exist (mode as in BuildFile: lost, kept or random).
std::map<std::string, std::string> FileStates(const std::vector<Record>& trace,
                                              std::size_t point, const std::string& data_path,
                                              const std::string& wal_dir, int mode,
                                              std::mt19937_64& rng, bool& pending) {
  std::map<std::string, std::string> files;
  bool data_written = false;
  std::size_t dir_sync = 0;  // index + 1 of the log directory's last sync
  std::map<std::string, std::pair<std::size_t, std::size_t>> segments;  // created, unlinked+1
  for (std::size_t i = 0; i < point; ++i) {
    const Record& r = trace[i];
    if (r.path == data_path && (r.kind == 'W' || r.kind == 'D')) data_written = true;
    if (r.path == wal_dir && r.kind == 'S') dir_sync = i + 1;
    if (r.path.size() > wal_dir.size() && r.path.compare(0, wal_dir.size() + 1, wal_dir + "/") == 0) {
      if (r.kind == 'C') segments[r.path] = {i, 0};
      if (r.kind == 'U' && segments.count(r.path) != 0) segments[r.path].second = i + 1;
    }
  }
  if (data_written) files[data_path] = BuildFile(trace, data_path, 0, point, mode, rng, pending);
  for (const auto& [path, span] : segments) {
    const auto [created, unlinked] = span;
    bool exists;
    if (unlinked != 0) {
      exists = dir_sync <= unlinked - 1;  // the unlink may be lost
      if (exists) pending = true;
      if (exists && mode != 1) exists = mode == 0 && rng() % 2 == 0;
    } else {
      exists = true;
      if (dir_sync <= created) {  // the creation may be lost
        pending = true;
        exists = mode == 2 || (mode == 0 && rng() % 2 == 0);
      }
    }
    if (!exists) continue;
    files[path] = BuildFile(trace, path, created, unlinked != 0 ? unlinked - 1 : point, mode,
                            rng, pending);
  }
  return files;
}

class CrashStates : public ::testing::Test {
 protected:
  void RunWriter(const std::string& dir, const std::string& trace, int rounds, unsigned seed) {
    const std::string err = trace + ".stderr";
    const int status = testing::RunPreloaded(
        testing::EnvOr("MEHDB_IO_TRACE_SHIM", "./libio_trace.so"),
        {{"MEHDB_IO_TRACE", trace}, {"MEHDB_IO_TRACE_DIR", dir}, {"MEHDB_IO_TRACE_ACK_FD", "1"}},
        {testing::EnvOr("MEHDB_CRASH_STATE_WRITER", "./crash_state_writer"), dir,
         std::to_string(rounds), std::to_string(seed)},
        "/dev/null", err);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "writer status " << status << ": " << testing::ReadAll(err);
  }
};

TEST_F(CrashStates, EveryStateOpensWithEveryAcknowledgedWrite) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const std::string trace_path = tmp.Sub("trace");
  const unsigned seed = 20261130;
  ASSERT_NO_FATAL_FAILURE(RunWriter(dir, trace_path, 50, seed));
  const std::string trace_bytes = testing::ReadAll(trace_path);
  const std::vector<Record> trace = ParseTrace(trace_bytes);
  const std::string data_path = dir + "/data.mdb";

  // Acknowledged writes per key, and the files' writes and syncs.
  const std::string wal_dir = dir + "/wal";
  auto is_wal = [&](const std::string& p) {
    return p.size() > wal_dir.size() + 1 && p.compare(0, wal_dir.size() + 1, wal_dir + "/") == 0;
  };
  std::map<std::string, KeyHistory> keys;
  std::size_t data_syncs = 0, data_writes = 0, wal_writes = 0, wal_syncs = 0, wal_files = 0,
              index_files = 0, acks = 0;
  for (std::size_t i = 0; i < trace.size(); ++i) {
    const Record& r = trace[i];
    ASSERT_NE(r.kind, 'M') << "msync seen: the model does not cover mapped writes";
    if (r.kind == 'A') {
      std::istringstream line(r.data);
      std::string op, key;
      unsigned gen = 0;
      std::size_t size = 0;
      line >> op >> key;
      KeyHistory& h = keys[key];
      if (op == "P") {
        line >> gen >> size;
        h.after.push_back(std::make_pair(gen, size));
      } else {
        ASSERT_EQ(op, "E") << r.data;
        h.after.push_back(std::nullopt);
      }
      h.ack_record.push_back(i);
      ++acks;
      continue;
    }
    if (r.path == data_path) {
      ASSERT_TRUE(r.kind == 'W' || r.kind == 'D' || r.kind == 'S' || r.kind == 'C')
          << "a '" << r.kind << "' record on the data file: the model does not cover it";
      if (r.kind == 'S') ++data_syncs;
      if (r.kind == 'W' || r.kind == 'D') ++data_writes;
    } else if (is_wal(r.path)) {
      // Segment files: created, preallocated, written, synced, cut back to
      // their records when the next one starts, unlinked; never renamed.
      // Index files: created, written (never synced), unlinked.
      ASSERT_TRUE(r.kind == 'W' || r.kind == 'S' || r.kind == 'C' || r.kind == 'U' ||
                  r.kind == 'F' || r.kind == 'T')
          << "a '" << r.kind << "' record on a log file: the model does not cover it";
      const bool index = r.path.ends_with(".idx");
      if (r.kind == 'W' && !index) ++wal_writes;
      if (r.kind == 'S') ++wal_syncs;
      if (r.kind == 'C') ++(index ? index_files : wal_files);
    }
    // Anything else (lock files, the wal directory's syncs) is read below
    // or rebuilt at every open.
  }
  // The writer ends 36 of its 50 rounds (for this seed) with a Flush, so the
  // trace holds at least 36 LMDB commits, each writing pages and a meta page
  // and syncing; more when the applier commits on its own between them.
  ASSERT_GT(acks, 60u);
  ASSERT_GT(data_syncs, 30u);
  ASSERT_GT(data_writes, 60u);
  ASSERT_GT(wal_syncs, 20u);
  ASSERT_GT(wal_files, 1u);
  ASSERT_GT(index_files, 0u) << "no segment was left for the next: no index file to model";

  // Crash points: after every record of the trace (and at its very start).
  std::mt19937_64 rng(seed);
  std::size_t states = 0, opened = 0, refused = 0;
  for (std::size_t point = 0; point <= trace.size(); ++point) {
    // Whether anything at this point is uncertain (for the variants below).
    bool pending = false;
    {
      std::mt19937_64 probe(0);
      (void)FileStates(trace, point, data_path, wal_dir, 1, probe, pending);
    }
    // Two states per crash point with pending writes: one random subset and
    // (alternately) all pending writes lost or all kept; one when nothing is
    // pending.
    const int variants = pending ? 2 : 1;
    for (int variant = 0; variant < variants; ++variant) {
      const int mode = variant == 0 ? 0 : (point % 2 == 0 ? 1 : 2);  // random, lose, keep
      bool unused = false;
      const std::map<std::string, std::string> files =
          FileStates(trace, point, data_path, wal_dir, mode, rng, unused);
      const std::string state_dir = tmp.Sub("state-" + std::to_string(states));
      std::filesystem::create_directories(state_dir + "/wal");
      for (const auto& [path, bytes] : files)
        testing::WriteAll(state_dir + path.substr(dir.size()), bytes);
      ++states;
      SCOPED_TRACE("crash state " + std::to_string(states) + " after trace record " +
                   std::to_string(point) + " of " + std::to_string(trace.size()) + ", mode " +
                   std::to_string(mode));

      // What each key may hold here.
      std::size_t acked_here = 0;
      auto store = Store::Open(state_dir);
      if (!store.ok()) {
        EXPECT_EQ(store.status().code(), Code::kDataLoss) << store.status().ToString();
        for (const auto& [key, h] : keys)
          acked_here += std::count_if(h.ack_record.begin(), h.ack_record.end(),
                                      [&](std::size_t a) { return a < point; });
        EXPECT_EQ(acked_here, 0u) << "refused a state with acknowledged writes: "
                                  << store.status().ToString();
        ++refused;
      } else {
        ++opened;
        for (const auto& [key, h] : keys) {
          std::size_t n = 0;  // this key's writes acknowledged before the point
          while (n < h.ack_record.size() && h.ack_record[n] < point) ++n;
          // Its next write may have been under way, none after that.
          std::vector<KeyState> allowed;
          allowed.push_back(n == 0 ? KeyState() : h.after[n - 1]);
          if (n < h.after.size()) allowed.push_back(h.after[n]);
          auto got = (*store)->Get(key);
          ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
          bool match = false;
          for (const KeyState& a : allowed) {
            if (!a.has_value()) {
              match = match || !got->has_value();
            } else if (got->has_value()) {
              match = match || (*got)->data == testing::CrashStateValue(key, a->first, a->second);
            }
          }
          EXPECT_TRUE(match) << key << " after " << n << " acknowledged writes holds "
                             << (got->has_value() ? (*got)->data.substr(0, 40) : "nothing");
        }
        // Every value in the state reads back whole (checksums hold).
        Status scan = (*store)->ForEach({}, [](std::string_view, std::string_view, Seq) {
          return true;
        });
        EXPECT_TRUE(scan.ok()) << scan.ToString();
        // The retained change log reads back whole: what Load indexed (by
        // walking a segment or from its index file) is where it says.
        auto stats = (*store)->GetStats();
        ASSERT_TRUE(stats.ok()) << stats.status().ToString();
        if (stats->log_entries > 0) {
          auto log = (*store)->ReadLog(stats->first_log_seq - 1, std::size_t{1} << 30);
          ASSERT_TRUE(log.ok()) << log.status().ToString();
          EXPECT_EQ(log->to, stats->last_seq);
        }
      }
      store = Status(Code::kAborted, "closed");
      std::filesystem::remove_all(state_dir);
      if (::testing::Test::HasFailure()) break;
    }
    if (::testing::Test::HasFailure()) break;
  }
  RecordProperty("states", static_cast<int>(states));
  std::printf("crash states: %zu generated and checked (%zu opened, %zu refused with no "
              "acknowledged writes); %zu trace records, %zu data-file writes, %zu syncs; %zu "
              "log segments (%zu index files), %zu log writes, %zu syncs; %zu acknowledged "
              "writes\n",
              states, opened, refused, trace.size(), data_writes, data_syncs, wal_files,
              index_files, wal_writes, wal_syncs, acks);
  EXPECT_GE(states, 300u);
}

}  // namespace
}  // namespace mehdb

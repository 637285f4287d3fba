// SPDX-License-Identifier: MIT
//
// Power-loss crash states. A SIGKILL keeps the page cache, so it cannot show
// what a power cut does; this test can. crash_state_writer runs under the
// io_trace LD_PRELOAD library (io_trace_shim.cc), which records every write
// and sync the store makes to its data file, in order, together with the
// writer's acknowledgements. From that trace the test rebuilds the data
// file as a power cut at any point could have left it: everything a sync
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
#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::TempDir;

constexpr std::uint64_t kBlock = 4096;

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

struct Record {
  char kind;
  std::string path;
  std::uint64_t offset;
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

class CrashStates : public ::testing::Test {
 protected:
  void RunWriter(const std::string& dir, const std::string& trace, int rounds, unsigned seed) {
    const std::string shim = EnvOr("MEHDB_IO_TRACE_SHIM", "./libio_trace.so");
    const std::string writer = EnvOr("MEHDB_CRASH_STATE_WRITER", "./crash_state_writer");
    const std::string err = trace + ".stderr";
    const pid_t pid = fork();
    if (pid == 0) {
      if (std::freopen("/dev/null", "w", stdout) == nullptr) _exit(126);
      if (std::freopen(err.c_str(), "w", stderr) == nullptr) _exit(126);
      setenv("LD_PRELOAD", shim.c_str(), 1);
      setenv("MEHDB_IO_TRACE", trace.c_str(), 1);
      setenv("MEHDB_IO_TRACE_DIR", dir.c_str(), 1);
      setenv("MEHDB_IO_TRACE_ACK_FD", "1", 1);
      // Sanitizer builds: the library comes before the sanitizer runtime.
      const std::string asan = EnvOr("ASAN_OPTIONS", "");
      setenv("ASAN_OPTIONS", (asan + (asan.empty() ? "" : ":") + "verify_asan_link_order=0").c_str(), 1);
      const std::string r = std::to_string(rounds), s = std::to_string(seed);
      execl(writer.c_str(), writer.c_str(), dir.c_str(), r.c_str(), s.c_str(), nullptr);
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
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

  // Acknowledged writes per key, and the data file's writes and syncs.
  std::map<std::string, KeyHistory> keys;
  std::vector<std::size_t> syncs;  // trace indices of data-file syncs
  std::size_t data_writes = 0, acks = 0;
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
    if (r.path != data_path) continue;  // lock files: rebuilt at every open
    ASSERT_TRUE(r.kind == 'W' || r.kind == 'D' || r.kind == 'S')
        << "a '" << r.kind << "' record on the data file: the model does not cover it";
    if (r.kind == 'S') syncs.push_back(i);
    else ++data_writes;
  }
  ASSERT_GT(acks, 60u);
  ASSERT_GT(syncs.size(), 20u);
  ASSERT_GT(data_writes, 100u);

  // Crash points: after every record of the trace (and at its very start).
  std::mt19937_64 rng(seed);
  std::size_t states = 0, opened = 0, refused = 0;
  for (std::size_t point = 0; point <= trace.size(); ++point) {
    // The data file's writes before the crash point, in blocks.
    std::size_t last_sync = 0;  // index + 1 of the last sync before point
    for (std::size_t s : syncs)
      if (s < point) last_sync = s + 1;
    std::map<std::uint64_t, std::vector<Chunk>> blocks;
    bool any_write = false;
    for (std::size_t i = 0; i < point; ++i) {
      const Record& r = trace[i];
      if (r.path != data_path || (r.kind != 'W' && r.kind != 'D')) continue;
      any_write = true;
      for (std::uint64_t at = r.offset; at < r.offset + r.data.size();) {
        const std::uint64_t end = std::min<std::uint64_t>(r.offset + r.data.size(),
                                                          (at / kBlock + 1) * kBlock);
        blocks[at / kBlock].push_back(
            {i, at, std::string_view(r.data).substr(at - r.offset, end - at), r.kind == 'D'});
        at = end;
      }
    }
    // Two states per crash point with pending writes: one random subset and
    // (alternately) all pending writes lost or all kept; one when nothing is
    // pending.
    bool pending = false;
    for (const auto& [b, chunks] : blocks)
      for (const Chunk& c : chunks)
        if (c.record >= last_sync && !c.durable) pending = true;
    const int variants = pending ? 2 : 1;
    for (int variant = 0; variant < variants; ++variant) {
      const int mode = variant == 0 ? 0 : (point % 2 == 0 ? 1 : 2);  // random, lose, keep
      // Build the file.
      std::string file;
      std::uint64_t size = 0;
      for (const auto& [b, chunks] : blocks) {
        // Writes before the last sync, or durable ones, and everything
        // before them in the block, survive.
        std::size_t certain = 0;
        for (std::size_t j = 0; j < chunks.size(); ++j)
          if (chunks[j].record < last_sync || chunks[j].durable) certain = j + 1;
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
      file.resize(size);

      const std::string state_dir = tmp.Sub("state-" + std::to_string(states));
      std::filesystem::create_directories(state_dir);
      if (any_write) testing::WriteAll(state_dir + "/data.mdb", file);
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
      }
      store = Status(Code::kAborted, "closed");
      std::filesystem::remove_all(state_dir);
      if (::testing::Test::HasFailure()) break;
    }
    if (::testing::Test::HasFailure()) break;
  }
  RecordProperty("states", static_cast<int>(states));
  std::printf("crash states: %zu generated and checked (%zu opened, %zu refused with no "
              "acknowledged writes); %zu trace records, %zu data-file writes, %zu syncs, %zu "
              "acknowledged writes\n",
              states, opened, refused, trace.size(), data_writes, syncs.size(), acks);
  EXPECT_GE(states, 300u);
}

}  // namespace
}  // namespace mehdb

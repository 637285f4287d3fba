// SPDX-License-Identifier: MIT
//
// A write whose log append fails as the volume fails, and whose bytes cannot
// be cut back off (the volume is read-only by then), may still be on disk:
// the next Open can replay it. Until then the store must not answer for the
// keys it touched as if it had not happened (a read of the old value that a
// restart contradicts), nor as if it had (it may be lost). Such keys answer
// kUnavailable, and so do scans over them and the count, until a later
// append supersedes the failed records or the store is reopened.
//
// The writer runs under failing_volume_shim.cc, which makes its store's
// files behave as on an ext4 volume turned read-only after an error
// (tests/stress/disk_test.cc does that with a real volume, as root).
#include <gtest/gtest.h>
#include <mehdb/store.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "lmdb_damage.h"
#include "preloaded_child.h"
#include "temp_dir.h"

namespace mehdb {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

// Runs the writer on `dir` in `mode`; answers its transcript.
std::string RunWriter(const TempDir& tmp, const std::string& dir, const std::string& mode) {
  const std::string out = tmp.Sub("transcript"), err = tmp.Sub("stderr");
  const std::string trigger = tmp.Sub("volume-failed");
  const int status = testing::RunPreloaded(
      testing::EnvOr("MEHDB_FAILING_VOLUME_SHIM", "./libfailing_volume.so"),
      {{"MEHDB_FAIL_DIR", dir}, {"MEHDB_FAIL_TRIGGER", trigger}},
      {testing::EnvOr("MEHDB_FAILING_VOLUME_WRITER", "./failing_volume_writer"), dir, trigger,
       mode},
      out, err);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "writer status " << status << ": " << testing::ReadAll(err);
  return testing::ReadAll(out);
}

// Reopens the store the writer left and answers "a=<value> b=<value>".
std::string ReopenAndReadAB(const std::string& dir) {
  auto store = OpenOrDie(dir);
  if (store == nullptr) return "(no store)";
  std::string out;
  for (const char* key : {"a", "b"}) {
    auto v = store->Get(key);
    out += std::string(out.empty() ? "" : " ") + key + "=" +
           (!v.ok() ? v.status().ToString() : *v ? (*v)->data : "(absent)");
  }
  return out;
}

constexpr const char* kWhileFailed =
    "put a a1: ok\n"
    "put b b1: ok\n"
    "put a a2: ReadOnly\n"
    "get a: Unavailable\n"  // a1 or a2: unknown until the log decides
    "get b: b1\n"
    "scan a: Unavailable\n"
    "scan b: b1\n"
    "count: Unavailable\n"
    "put b b2: ReadOnly\n";  // no segment could be created: nothing written

TEST(FailingVolume, AWriteThatMayStillBeReplayedIsInDoubtUntilTheStoreReopens) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  EXPECT_EQ(RunWriter(tmp, dir, "stay"), kWhileFailed);
  // The volume is back (the trigger is gone with the writer's world). The
  // failed append's bytes reached the file, so the replay finds a2: had the
  // writer answered a1 for "a" while failed, this would contradict it.
  std::remove(tmp.Sub("volume-failed").c_str());
  EXPECT_EQ(ReopenAndReadAB(dir), "a=a2 b=b1");
}

TEST(FailingVolume, TheDoubtEndsWhenALaterAppendSupersedesTheFailedOne) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  EXPECT_EQ(RunWriter(tmp, dir, "recover"), std::string(kWhileFailed) +
                                                "put b b3: ok\n"
                                                "get a: a1\n"
                                                "scan a: a1\n"
                                                "count: 2\n");
  // b3's segment starts at a2's seq, so the replay drops a2 and the store
  // says what the writer said once the volume recovered.
  EXPECT_EQ(ReopenAndReadAB(dir), "a=a1 b=b3");
}

}  // namespace
}  // namespace mehdb

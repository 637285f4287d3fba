// SPDX-License-Identifier: MIT
//
// Backup and restore round-trip with real processes: a backup taken from a
// leader under GET /backup, restored with `mehdbd --restore-from` onto a
// fresh volume, holds the same keys, values, seq and history id, and the
// leader's follower resumes from it without a snapshot. A restore never
// silently replaces data (--restore-force), a damaged backup is an error
// naming it, and a backup dropped into the data directory by hand is
// refused with the way to restore it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pod_fixture.h"

namespace mehdb::cluster {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs mehdbd with `args` to the end (a --restore-only run, or one that is
// refused at start) and answers its exit code and output.
RunResult RunMehdbd(const std::vector<std::string>& args) {
  // A run that should stop at once but serves is ended after 30 s.
  std::string cmd = std::string("timeout 30 ") + std::getenv("MEHDBD");
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class Restore : public PodFixture {
 protected:
  // GET /backup into a file, as `mehdb backup FILE` does.
  std::string TakeBackup(const Pod& pod, const std::string& name) {
    auto res = pod.Client(30)->Get("/backup");
    EXPECT_TRUE(res && res->status == 200);
    const std::string file = workdir_ + "/" + name;
    std::ofstream(file, std::ios::binary) << (res ? res->body : "");
    return file;
  }

  // What a store holds, read through a running pod: every key and value,
  // its seq and its history.
  struct Held {
    std::map<std::string, std::string> data;
    unsigned long long seq = 0;
    std::string history;
    bool operator==(const Held&) const = default;
  };
  Held HeldBy(const Pod& pod) {
    const auto r = Replication(pod);
    return {pod.Contents(), r["last_seq"], r["history"]};
  }

};

TEST_F(Restore, ABackupRestoresOntoAFreshVolumeWithItsHistory) {
  Pod& leader = AddPod();
  leader.Start();
  Pod& follower = AddPod();
  follower.Start();
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(leader.Put("key" + std::to_string(i % 250), "value-" + std::to_string(i)), 200);
  ASSERT_EQ(leader.Delete("key7"), 204);
  ASSERT_EQ(leader.Put("empty", ""), 200);
  ASSERT_TRUE(WaitUntil([&] { return follower.Contents() == leader.Contents(); }));
  const Held before = HeldBy(leader);
  ASSERT_EQ(before.data.size(), 250u);
  const std::string backup = TakeBackup(leader, "backup.mdb");
  const auto snapshots = Replication(follower)["follower"]["snapshots"];

  // The leader's volume is lost; it comes back from the backup.
  leader.Kill();
  leader.WipeData();
  leader.SetExtraArgs({"--restore-from=" + backup});
  leader.Start();
  EXPECT_EQ(HeldBy(leader), before);

  // The follower holds the same history at the same seq: it resumes by the
  // log, without loading a snapshot, and new writes reach it.
  ASSERT_EQ(leader.Put("after-restore", "yes"), 200);
  EXPECT_TRUE(WaitUntil([&] { return follower.Get("after-restore") == "yes"; }))
      << follower.ReplicationJson();
  EXPECT_EQ(Replication(follower)["follower"]["snapshots"], snapshots);
  EXPECT_TRUE(WaitUntil([&] { return follower.Contents() == leader.Contents(); }));
}

TEST_F(Restore, NeverReplacesDataUnlessForcedAndRefusesDamagedBackups) {
  Pod& source = AddPod();
  source.Start();
  ASSERT_EQ(source.Put("a", "1"), 200);
  ASSERT_EQ(source.Put("b", "2"), 200);
  const Held held = HeldBy(source);
  const std::string backup = TakeBackup(source, "backup.mdb");
  source.Kill();

  const std::string dir = workdir_ + "/restored";
  RunResult r = RunMehdbd({"--datadir=" + dir, "--restore-from=" + backup, "--restore-only"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 keys, seq " + std::to_string(held.seq) + ", history " + held.history),
            std::string::npos)
      << r.output;

  // Now the directory holds data: a second restore is refused ...
  r = RunMehdbd({"--datadir=" + dir, "--restore-from=" + backup, "--restore-only"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("already holds"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--restore-force"), std::string::npos) << r.output;
  // ... unless forced.
  r = RunMehdbd({"--datadir=" + dir, "--restore-from=" + backup, "--restore-force", "--restore-only"});
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // Damaged or missing backups: an error naming the file, the store kept.
  const std::string garbage = workdir_ + "/garbage.mdb";
  std::ofstream(garbage, std::ios::binary) << std::string(64 * 1024, 'x');
  const std::string truncated = workdir_ + "/truncated.mdb";
  {
    std::ifstream in(backup, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, 100);
  }
  for (const std::string& bad : {garbage, truncated, workdir_ + "/missing.mdb", workdir_}) {
    SCOPED_TRACE(bad);
    r = RunMehdbd({"--datadir=" + dir, "--restore-from=" + bad, "--restore-force", "--restore-only"});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find(bad), std::string::npos) << r.output;
  }
  // Serving the directory shows the restored data, untouched by the above.
  Pod& restored = AddPod();
  std::filesystem::rename(dir, restored.datadir());
  restored.Start();
  EXPECT_EQ(HeldBy(restored), held);
  restored.Kill();

  // Options that make no sense alone stop the daemon as bad options.
  EXPECT_EQ(RunMehdbd({"--datadir=" + dir, "--restore-force"}).exit_code, 2);
  EXPECT_EQ(RunMehdbd({"--datadir=" + dir, "--restore-only"}).exit_code, 2);
}

TEST_F(Restore, ABackupDroppedIntoTheDataDirectoryIsRefusedWithTheWayToRestore) {
  Pod& source = AddPod();
  source.Start();
  ASSERT_EQ(source.Put("a", "1"), 200);
  const std::string backup = TakeBackup(source, "backup.mdb");
  source.Kill();
  // What the old backup message told operators to do.
  const std::string dir = workdir_ + "/by-hand";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(backup, dir + "/data.mdb");
  // (Were it not refused, it would serve until `timeout` stops it.)
  RunResult r = RunMehdbd({"--datadir=" + dir, "--bind=127.0.0.1",
                           "--port=" + std::to_string(ports_.client),
                           "--peer-port=" + std::to_string(ports_.peer)});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--restore-from"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/data.mdb"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/current")) << "no empty store made beside it";
}

}  // namespace
}  // namespace mehdb::cluster

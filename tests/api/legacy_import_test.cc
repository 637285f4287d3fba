// SPDX-License-Identifier: MIT
//
// The built mehdbd started on a data directory in mehdb 0.6's layout
// (DATADIR/<key>/content, as ORIGINAL_API.md "On disk" describes it, written
// here the way the original writes it): every key imported once, the
// originals kept under mehdb-0.6/, a SIGKILL in the middle of the import
// leaving them intact and the next start importing again, an interrupted
// move finished, a second start doing nothing, and entries the original
// could not have written reported and left alone.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness.h"

namespace mehdb_test {
namespace {

namespace fs = std::filesystem;
using Values = std::map<std::string, std::string>;

// Key i as the original could name it: [a-z]+.
std::string KeyName(int i) {
  std::string s = "k";
  do {
    s += static_cast<char>('a' + i % 26);
    i /= 26;
  } while (i > 0);
  return s;
}

// Values of 0 B to 1 MiB: mostly small, every 100th 1 MiB, every 7th empty;
// binary bytes (zeros included) so nothing is treated as text.
Values MakeValues(int count) {
  Values values;
  for (int i = 0; i < count; ++i) {
    std::size_t size = static_cast<std::size_t>(i * 37 % 4096);
    if (i % 7 == 0) size = 0;
    if (i % 100 == 0) size = std::size_t{1} << 20;
    std::string v(size, '\0');
    std::uint32_t x = static_cast<std::uint32_t>(i) * 2654435761u + 1;
    for (char& c : v) {
      x = x * 1664525u + 1013904223u;
      c = static_cast<char>(x >> 24);
    }
    values[KeyName(i)] = std::move(v);
  }
  return values;
}

// What the original leaves on its volume for `values`.
void WriteOriginalLayout(const std::string& datadir, const Values& values) {
  fs::create_directories(datadir);
  for (const auto& [key, value] : values) {
    fs::create_directory(datadir + "/" + key);
    WriteFile(datadir + "/" + key + "/content", value);
  }
}

std::uint64_t TotalBytes(const Values& values) {
  std::uint64_t n = 0;
  for (const auto& [key, value] : values) n += value.size();
  return n;
}

// One mehdbd on 127.0.0.1 over `datadir`, started by Start().
class Daemon {
 public:
  Daemon(const TempDir& dir, std::string datadir) : dir_(dir), datadir_(std::move(datadir)) {}

  void Start(std::map<std::string, std::string> env = {}) {
    port_ = FreePort();
    env.emplace("MEHDB_PORT", std::to_string(port_));
    env.emplace("MEHDB_BIND", "127.0.0.1");
    env.emplace("MEHDB_PEER_PORT", std::to_string(FreePort()));  // not the shared 9877
    env.emplace("MEHDB_DATADIR", datadir_);
    // SIGTERM stops at once: the drain delay (5 s by default, for the
    // Service's endpoints to drop the pod) is not what these tests check.
    env.emplace("MEHDB_DRAIN_DELAY", "0");
    ProcessSpec spec;
    spec.argv = {BinaryPath("MEHDBD")};
    spec.env = env;
    child_ = std::make_unique<Child>(spec, dir_.path());
  }
  bool WaitUp() { return WaitForHttp(port_, "/healthz", std::chrono::seconds(120)); }
  // SIGTERM and the exit code.
  std::optional<int> Stop() {
    child_->Signal(SIGTERM);
    return child_->Wait(std::chrono::seconds(30));
  }
  Child& child() { return *child_; }
  std::unique_ptr<httplib::Client> Client() const {
    auto cli = std::make_unique<httplib::Client>("127.0.0.1", port_);
    cli->set_read_timeout(30, 0);
    return cli;
  }

 private:
  const TempDir& dir_;
  std::string datadir_;
  int port_ = 0;
  std::unique_ptr<Child> child_;
};

// Every key answers its value and nothing else is there.
void ExpectServes(Daemon& daemon, const Values& values) {
  auto cli = daemon.Client();
  auto count = cli->Get("/status?level=full");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->body, std::to_string(values.size()) + "\n");
  auto keys = cli->Get("/keys");
  ASSERT_TRUE(keys);
  nlohmann::json expected = nlohmann::json::array();
  for (const auto& [key, value] : values) expected.push_back(key);
  EXPECT_EQ(nlohmann::json::parse(keys->body), expected);
  int wrong = 0;
  for (const auto& [key, value] : values) {
    auto res = cli->Get(("/get/" + key).c_str());
    if (!res || res->status != 200 || res->body != value) ++wrong;
  }
  EXPECT_EQ(wrong, 0) << "keys answering a wrong value";
}

// Every original file holds its value, in DATADIR or under mehdb-0.6/.
int OriginalsChanged(const std::string& datadir, const Values& values) {
  int changed = 0;
  for (const auto& [key, value] : values) {
    const std::string top = datadir + "/" + key + "/content";
    const std::string kept = datadir + "/mehdb-0.6/" + key + "/content";
    const std::string path = fs::exists(top) ? top : kept;
    if (!fs::exists(path) || ReadFile(path) != value) ++changed;
  }
  return changed;
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

TEST(LegacyImport, ImportsEveryKeyKeepsTheOriginalsAndASecondStartDoesNothing) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const Values values = MakeValues(3000);
  WriteOriginalLayout(data, values);

  Daemon daemon(dir, data);
  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  ExpectServes(daemon, values);
  EXPECT_NE(daemon.child().Stderr().find("imported 3000 keys (" +
                                         std::to_string(TotalBytes(values)) + " bytes)"),
            std::string::npos)
      << daemon.child().Stderr();
  // The originals moved, unchanged, under one directory; nothing else left.
  EXPECT_EQ(Entries(data), (std::set<std::string>{"current", "mehdb-0.6", "store-000001"}));
  EXPECT_EQ(Entries(data + "/mehdb-0.6").size(), values.size());
  EXPECT_EQ(OriginalsChanged(data, values), 0);

  // A write after the import, then a second start: no import, same data.
  ASSERT_EQ(daemon.Client()->Put("/set/after", "new", "text/plain")->status, 200);
  ASSERT_EQ(daemon.Stop(), 0) << daemon.child().Stderr();
  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  EXPECT_EQ(daemon.child().Stderr().find("import of mehdb 0.6"), std::string::npos)
      << daemon.child().Stderr();
  Values with_after = values;
  with_after["after"] = "new";
  ExpectServes(daemon, with_after);
  EXPECT_EQ(Entries(data + "/mehdb-0.6").size(), values.size());
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(LegacyImport, SigkillMidImportLeavesTheOriginalsAndTheNextStartImportsAgain) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const Values values = MakeValues(3000);
  WriteOriginalLayout(data, values);

  Daemon daemon(dir, data);
  daemon.Start();
  // The staged store appears as the import starts writing; kill then.
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(data + "/store-000001") && std::chrono::steady_clock::now() < limit)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  ASSERT_TRUE(fs::exists(data + "/store-000001")) << daemon.child().Stderr();
  daemon.child().Signal(SIGKILL);
  ASSERT_EQ(daemon.child().Wait(std::chrono::seconds(10)), -SIGKILL);
  ASSERT_EQ(daemon.child().Stderr().find("imported 3000"), std::string::npos)
      << "the import finished before the kill; nothing was interrupted";
  EXPECT_FALSE(fs::is_symlink(data + "/current"));
  EXPECT_EQ(OriginalsChanged(data, values), 0);

  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  const std::string log = daemon.child().Stderr();
  EXPECT_NE(log.find("restarting an interrupted import"), std::string::npos) << log;
  EXPECT_NE(log.find("imported 3000 keys"), std::string::npos) << log;
  ExpectServes(daemon, values);
  EXPECT_EQ(OriginalsChanged(data, values), 0);
  EXPECT_FALSE(fs::exists(data + "/mehdb-0.6/.import-in-progress"));
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(LegacyImport, AMoveInterruptedAfterTheSwitchIsFinished) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const Values values = MakeValues(60);
  WriteOriginalLayout(data, values);
  Daemon daemon(dir, data);
  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  ASSERT_EQ(daemon.Stop(), 0);

  // The state a crash after the switch leaves: the store is live, the
  // marker is there, half of the originals are still in DATADIR.
  int n = 0;
  for (const auto& [key, value] : values) {
    if (n++ % 2 == 0) fs::rename(data + "/mehdb-0.6/" + key, data + "/" + key);
  }
  WriteFile(data + "/mehdb-0.6/.import-in-progress", "");

  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  EXPECT_NE(daemon.child().Stderr().find("30 moved after an interruption"), std::string::npos)
      << daemon.child().Stderr();
  EXPECT_EQ(Entries(data), (std::set<std::string>{"current", "mehdb-0.6", "store-000001"}));
  EXPECT_EQ(Entries(data + "/mehdb-0.6").size(), values.size());
  ExpectServes(daemon, values);
  EXPECT_EQ(OriginalsChanged(data, values), 0);
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(LegacyImport, AMoveThatFailsAfterTheSwitchDoesNotKeepTheDaemonDown) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  WriteOriginalLayout(data, Values{{"abc", "one"}, {"def", "two"}});
  Daemon daemon(dir, data);
  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  ASSERT_EQ(daemon.Stop(), 0);
  // An interrupted move whose target is taken: rename(2) onto a non-empty
  // directory fails.
  fs::create_directory(data + "/abc");
  WriteFile(data + "/abc/content", "a copy");
  WriteFile(data + "/mehdb-0.6/.import-in-progress", "");

  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  EXPECT_NE(daemon.child().Stderr().find("the store is complete, but"), std::string::npos)
      << daemon.child().Stderr();
  ExpectServes(daemon, Values{{"abc", "one"}, {"def", "two"}});
  EXPECT_TRUE(fs::exists(data + "/mehdb-0.6/.import-in-progress"));
  EXPECT_EQ(ReadFile(data + "/abc/content"), "a copy");
  EXPECT_EQ(ReadFile(data + "/mehdb-0.6/abc/content"), "one");
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(LegacyImport, WhatTheOriginalCouldNotHaveWrittenIsReportedAndLeftAlone) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  // Two real keys, one of them named like our `current` link.
  WriteOriginalLayout(data, Values{{"abc", "one"}, {"current", "two"}});
  WriteFile(data + "/abc/notes", "someone's file");
  for (const char* bad : {"BAD", "a1", "with-dash", ".hidden"}) {
    fs::create_directory(data + "/" + bad);
    WriteFile(data + "/" + bad + "/content", "x");
  }
  fs::create_directory(data + "/lost+found");
  WriteFile(data + "/stray", "a file");
  fs::create_directory(data + "/dirlink");  // content is a symlink
  fs::create_symlink(data + "/abc/content", data + "/dirlink/content");
  fs::create_directory_symlink(data + "/abc", data + "/symlinked");

  Daemon daemon(dir, data);
  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  ExpectServes(daemon, Values{{"abc", "one"}, {"current", "two"}});
  const std::string log = daemon.child().Stderr();
  for (const char* reported : {"BAD: a name", "a1: a name", "with-dash: a name", ".hidden: a name",
                               "lost+found: no content file", "stray: not a directory",
                               "dirlink/content: not a regular file", "symlinked: not a directory",
                               "abc/notes: not written by the original"}) {
    EXPECT_NE(log.find(reported), std::string::npos) << reported << " in\n" << log;
  }
  EXPECT_EQ(Entries(data),
            (std::set<std::string>{"current", "mehdb-0.6", "store-000001", "BAD", "a1",
                                   "with-dash", ".hidden", "lost+found", "stray", "dirlink",
                                   "symlinked"}));
  EXPECT_TRUE(fs::is_symlink(data + "/current"));
  EXPECT_EQ(ReadFile(data + "/mehdb-0.6/current/content"), "two");
  EXPECT_EQ(ReadFile(data + "/mehdb-0.6/abc/notes"), "someone's file");
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(LegacyImport, AValueOverTheLimitStopsTheStartAndChangesNothing) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const Values values{{"big", std::string(4096, 'b')}, {"small", "s"}};
  WriteOriginalLayout(data, values);
  Daemon daemon(dir, data);
  daemon.Start({{"MEHDB_MAX_VALUE_SIZE", "1KiB"}});
  ASSERT_EQ(daemon.child().Wait(std::chrono::seconds(30)), 1);
  EXPECT_NE(daemon.child().Stderr().find("key big holds 4096 bytes, more than --max-value-size"),
            std::string::npos)
      << daemon.child().Stderr();
  EXPECT_FALSE(fs::exists(data + "/current"));
  EXPECT_EQ(OriginalsChanged(data, values), 0);
  EXPECT_TRUE(fs::exists(data + "/big/content"));

  daemon.Start();  // with the default limit it goes through
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  ExpectServes(daemon, values);
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(LegacyImport, KeptOriginalsWithoutAStoreAreNotSilentlyDropped) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  WriteOriginalLayout(data, Values{{"abc", "one"}});
  Daemon daemon(dir, data);
  daemon.Start();
  ASSERT_TRUE(daemon.WaitUp()) << daemon.child().Stderr();
  ASSERT_EQ(daemon.Stop(), 0);
  fs::remove(data + "/current");
  fs::remove_all(data + "/store-000001");

  daemon.Start();
  ASSERT_EQ(daemon.child().Wait(std::chrono::seconds(30)), 1);
  EXPECT_NE(daemon.child().Stderr().find("to import them again move them back"),
            std::string::npos)
      << daemon.child().Stderr();
  EXPECT_EQ(ReadFile(data + "/mehdb-0.6/abc/content"), "one");
}

}  // namespace
}  // namespace mehdb_test

// SPDX-License-Identifier: MIT
//
// The built mehdbd binary, started the way the original's README starts it
// (environment variables only), always bound to 127.0.0.1: roles, the
// follower's 307, curl following it, graceful SIGTERM with a request in
// flight, start-up failures with their exit codes, the start-up line, log
// lines in both formats, and SIGHUP (never fatal: it reloads the log
// settings).
#include <gtest/gtest.h>
#include <mehdb/version.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "../unit/lmdb_damage.h"
#include "../unit/thread_names.h"
#include "harness.h"

namespace mehdb_test {
namespace {

using Env = std::map<std::string, std::string>;

class Daemon {
 public:
  // Starts mehdbd with `env` (MEHDB_BIND=127.0.0.1 and a port are added).
  explicit Daemon(std::map<std::string, std::string> env,
                  std::vector<std::string> args = {})
      : port_(FreePort()) {
    env.emplace("MEHDB_PORT", std::to_string(port_));
    env.emplace("MEHDB_BIND", "127.0.0.1");
    // Every daemon listens for peers too: never on the shared default 9877,
    // which another test's daemon may hold at the same moment.
    env.emplace("MEHDB_PEER_PORT", std::to_string(FreePort()));
    env.emplace("MEHDB_DATADIR", dir_.Sub("data"));
    // Quick by default: a pristine leader takes writes at once, SIGTERM
    // stops without a drain delay (tests/cluster covers both).
    env.emplace("MEHDB_LEADER_RECOVERY", "fresh");
    env.emplace("MEHDB_DRAIN_DELAY", "0");
    ProcessSpec spec;
    spec.argv = {BinaryPath("MEHDBD")};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = env;
    child_ = std::make_unique<Child>(spec, dir_.path());
    up_ = WaitForHttp(port_, "/healthz");
  }

  bool up() const { return up_; }
  int port() const { return port_; }
  Child& child() { return *child_; }
  const TempDir& dir() const { return dir_; }
  std::unique_ptr<httplib::Client> Client() const {
    auto cli = std::make_unique<httplib::Client>("127.0.0.1", port_);
    cli->set_read_timeout(30, 0);
    return cli;
  }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Child> child_;
  bool up_ = false;
};

TEST(Process, LeaderAndLocalFollowerAsInTheOriginalReadme) {
  Daemon leader(Env{{"MEHDB_HOST", "mehdb-0"}});
  Daemon follower(Env{{"MEHDB_LOCAL", "yes"}});
  ASSERT_TRUE(leader.up()) << leader.child().Stderr();
  ASSERT_TRUE(follower.up()) << follower.child().Stderr();
  EXPECT_EQ(leader.Client()->Get("/status")->body, "leader");
  EXPECT_EQ(follower.Client()->Get("/status")->body, "follower");

  auto res = follower.Client()->Put("/set/abc", "v", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 307);
  EXPECT_EQ(res->get_header_value("Location"), "http://localhost:9999/set/abc");
  EXPECT_EQ(leader.Client()->Put("/set/abc", "v", "text/plain")->body,
            "WRITE completed");
  EXPECT_EQ(leader.Client()->Get("/get/abc")->body, "v");
}

TEST(Process, DerivedLeaderAddressAndStandalone) {
  Daemon follower(Env{{"MEHDB_HOST", "mehdb-2"}, {"MEHDB_NAMESPACE", "prod"}});
  ASSERT_TRUE(follower.up()) << follower.child().Stderr();
  EXPECT_EQ(follower.Client()
                ->Put("/set/abc", "v", "text/plain")
                ->get_header_value("Location"),
            "http://mehdb-0.mehdb.prod.svc.cluster.local:" +
                std::to_string(follower.port()) + "/set/abc");
  Daemon standalone(Env{{"MEHDB_HOST", "my-laptop"}});
  ASSERT_TRUE(standalone.up());
  EXPECT_EQ(standalone.Client()->Get("/status")->body, "leader");
  EXPECT_EQ(standalone.Client()->Put("/set/abc", "v", "text/plain")->status,
            200);
}

// The original README's `curl -L -XPUT -T file`, against a follower.
TEST(Process, CurlFollowsTheRedirectToTheLeader) {
  if (::access("/usr/bin/curl", X_OK) != 0)
    GTEST_SKIP() << "curl is not installed";
  Daemon leader(Env{{"MEHDB_HOST", "mehdb-0"}});
  ASSERT_TRUE(leader.up());
  Daemon follower(Env{{"MEHDB_HOST", "mehdb-1"},
                      {"MEHDB_LEADER_URL",
                       "http://127.0.0.1:" + std::to_string(leader.port())}});
  ASSERT_TRUE(follower.up());
  TempDir files;
  std::string value(3 << 20,
                    '\0');  // big enough for curl's Expect: 100-continue
  for (std::size_t i = 0; i < value.size(); ++i)
    value[i] = static_cast<char>(i % 251);
  WriteFile(files.Sub("value"), value);
  ProcessSpec curl;
  curl.argv = {
      "/usr/bin/curl",
      "-sS",
      "-L",
      "-XPUT",
      "-T",
      files.Sub("value"),
      "http://127.0.0.1:" + std::to_string(follower.port()) + "/set/abc"};
  ProcessResult r = RunProcess(curl);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "WRITE completed");
  auto got = leader.Client()->Get("/get/abc");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->body == value);
}

// --auth-token-file on real processes: probes open, writes refused without
// the token, and curl carrying it through a follower's 307 (curl drops an
// Authorization header on a redirect to another host or port unless told
// --location-trusted, as the README says).
TEST(Process, AuthTokenFileGuardsWritesThroughTheRedirect) {
  if (::access("/usr/bin/curl", X_OK) != 0)
    GTEST_SKIP() << "curl is not installed";
  TempDir files;
  WriteFile(files.Sub("token"), "tok-123\n");
  Daemon leader(Env{{"MEHDB_HOST", "mehdb-0"},
                    {"MEHDB_AUTH_TOKEN_FILE", files.Sub("token")}});
  ASSERT_TRUE(leader.up()) << leader.child().Stderr();
  Daemon follower(Env{{"MEHDB_HOST", "mehdb-1"},
                      {"MEHDB_LEADER_URL",
                       "http://127.0.0.1:" + std::to_string(leader.port())}},
                  {"--auth-token-file=" + files.Sub("token"),
                   "--auth-reads=token"});
  ASSERT_TRUE(follower.up()) << follower.child().Stderr();

  auto res = leader.Client()->Put("/set/abc", "v", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(leader.Client()->Get("/get/abc")->status, 404);  // reads open
  EXPECT_EQ(follower.Client()->Get("/get/abc")->status, 401);  // protected
  EXPECT_EQ(follower.Client()->Get("/healthz")->status, 200);
  EXPECT_EQ(follower.Client()->Get("/metrics")->status, 200);

  const std::string url =
      "http://127.0.0.1:" + std::to_string(follower.port()) + "/set/abc";
  ProcessSpec curl;
  curl.argv = {"/usr/bin/curl", "-sS", "-L", "--location-trusted", "-XPUT",
               "-H", "Authorization: Bearer tok-123", "--data-binary",
               "value", url};
  ProcessResult r = RunProcess(curl);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "WRITE completed");
  EXPECT_EQ(leader.Client()->Get("/get/abc")->body, "value");
  curl.argv = {"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w",
               "%{http_code}", "-XPUT", "-H", "Authorization: Bearer nope",
               "--data-binary", "value", url};
  r = RunProcess(curl);
  EXPECT_EQ(r.out, "403");
}

TEST(Process, SigtermFinishesTheRequestInFlightAndExitsZero) {
  Daemon leader(Env{{"MEHDB_HOST", "mehdb-0"}});
  ASSERT_TRUE(leader.up()) << leader.child().Stderr();
  // An idle keep-alive connection must not hold the shutdown up.
  const int idle = ConnectLoopback(leader.port());
  ASSERT_TRUE(SendAll(idle, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n"));
  ReadUntil(idle, "leader");
  // A PUT whose headers are in: the 100 Continue proves it is being handled.
  const int fd = ConnectLoopback(leader.port());
  ASSERT_TRUE(
      SendAll(fd,
              "PUT /set/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
              "Expect: 100-continue\r\n\r\n"));
  ASSERT_EQ(ReadUntil(fd, "\r\n\r\n").rfind("HTTP/1.1 100 Continue", 0), 0u);
  leader.child().Signal(SIGTERM);
  // New connections are refused once the listener closes...
  bool refused = false;
  for (int i = 0; i < 2000 && !refused; ++i) {
    const int probe = ConnectLoopback(leader.port());
    refused = probe < 0;
    if (probe >= 0) ::close(probe);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(refused);
  // ...while the request in flight completes.
  ASSERT_TRUE(SendAll(fd, "0123456789"));
  const std::string answer = ReadUntil(fd, "WRITE completed");
  ::close(fd);
  ::close(idle);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK", 0), 0u) << answer;
  const auto code = leader.child().Wait(std::chrono::seconds(25));
  ASSERT_TRUE(code.has_value()) << "mehdbd did not exit after SIGTERM";
  EXPECT_EQ(*code, 0) << leader.child().Stderr();
  EXPECT_NE(leader.child().Stderr().find("stopped cleanly"), std::string::npos);
  // The store was closed cleanly and holds the write.
  auto store = mehdb::Store::Open(leader.dir().Sub("data/current"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto v = (*store)->Get("slow");
  ASSERT_TRUE(v.ok() && *v);
  EXPECT_EQ((*v)->data, "0123456789");
}

TEST(Process, AccessLogIsOneLinePerRequestOnStdout) {
  Daemon daemon(Env{{"MEHDB_HOST", "x"}, {"MEHDB_ACCESS_LOG", "true"}});
  ASSERT_TRUE(daemon.up()) << daemon.child().Stderr();
  ASSERT_EQ(daemon.Client()->Put("/set/abc", "12345", "text/plain")->status,
            200);
  ASSERT_EQ(daemon.Client()->Get("/get/abc")->status, 200);
  daemon.child().Signal(SIGTERM);
  ASSERT_EQ(daemon.child().Wait(std::chrono::seconds(20)), 0);
  const std::string out = daemon.child().Stdout();
  // Each line starts with its UTC time: 2026-11-30T18:04:05.123Z.
  const std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1 "[^\n]*)");
  std::istringstream lines(out);
  int count = 0;
  for (std::string l; std::getline(lines, l); ++count) EXPECT_TRUE(std::regex_match(l, line)) << l;
  EXPECT_GE(count, 2);
  EXPECT_NE(out.find("127.0.0.1 \"PUT /set/abc HTTP/1.1\" 200 15 "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("127.0.0.1 \"GET /get/abc HTTP/1.1\" 200 5 "),
            std::string::npos)
      << out;
}

// The conventional process_* metrics describe the daemon's own process.
TEST(Process, MetricsCarryTheProcessFigures) {
  const double before = std::chrono::duration<double>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  Daemon daemon(Env{{"MEHDB_HOST", "x"}});
  ASSERT_TRUE(daemon.up()) << daemon.child().Stderr();
  auto res = daemon.Client()->Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  std::map<std::string, double> process;
  std::istringstream lines(res->body);
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("process_", 0) != 0) continue;
    const auto space = l.find(' ');
    process[l.substr(0, space)] = std::stod(l.substr(space + 1));
  }
  const double now = std::chrono::duration<double>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GE(process["process_cpu_seconds_total"], 0.0);
  EXPECT_LT(process["process_cpu_seconds_total"], 3600.0);
  EXPECT_GT(process["process_resident_memory_bytes"], 1e6);  // a running daemon
  EXPECT_GE(process["process_virtual_memory_bytes"], process["process_resident_memory_bytes"]);
  // Listeners, the store's files and the lock are open; fewer than the cap.
  EXPECT_GT(process["process_open_fds"], 3.0);
  EXPECT_GT(process["process_max_fds"], process["process_open_fds"]);
  // Started by this test: between its start (less clock-tick rounding)
  // and now.
  EXPECT_GE(process["process_start_time_seconds"], before - 2.0);
  EXPECT_LE(process["process_start_time_seconds"], now + 0.01);
  // The open-fd count follows the process: four more connections held
  // open, more fds (by at least two, whatever earlier connections the
  // daemon has yet to see closed).
  std::vector<std::unique_ptr<httplib::Client>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<httplib::Client>("127.0.0.1", daemon.port()));
    held.back()->set_keep_alive(true);
    ASSERT_TRUE(held.back()->Get("/healthz"));
  }
  res = daemon.Client()->Get("/metrics");
  ASSERT_TRUE(res);
  const auto at = res->body.find("\nprocess_open_fds ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stod(res->body.substr(at + 18)), process["process_open_fds"] + 2);
}

// Sanitizer runtimes start threads of their own (ThreadSanitizer's and
// AddressSanitizer's background threads), which keep the program's name.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Every thread says what it is (top -H, gdb and perf show the names): the
// event loops, each listener's workers, the store's applier and the rest.
TEST(Process, ThreadsAreNamed) {
  Daemon daemon(Env{{"MEHDB_HOST", "x"}, {"MEHDB_THREADS", "3"}});
  ASSERT_TRUE(daemon.up()) << daemon.child().Stderr();
  // Only the main thread keeps the program's name (and, in a sanitizer
  // build, the sanitizer's own thread).
  const int most_unnamed = kSanitized ? 2 : 1;
  // The API answers before the peer server's thread has necessarily started
  // its loop, and a thread is named by its starter just after it exists, so
  // a read can catch one still carrying the program's name: read until every
  // thread is there and named (for a while), then check.
  auto settled = [&](std::map<std::string, int>& names) {
    return names["mehdbd-peer-0"] == 1 && names["mehdbd"] <= most_unnamed;
  };
  auto names = mehdb::testing::ThreadNames(daemon.child().pid());
  for (int i = 0; i < 100 && !settled(names); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    names = mehdb::testing::ThreadNames(daemon.child().pid());
  }
  EXPECT_EQ(names["mehdbd-loop-0"], 1);
  EXPECT_EQ(names["mehdbd-api-w"], 3);
  EXPECT_EQ(names["mehdbd-peer-0"], 1);
  EXPECT_EQ(names["mehdb-apply"], 1);
  EXPECT_EQ(names["mehdbd-signals"], 1);
  std::string all;  // says which threads were there when a check fails
  for (const auto& [name, count] : names) {
    all += name + "×" + std::to_string(count) + " ";
  }
  EXPECT_GE(names["mehdbd"], 1) << all;
  EXPECT_LE(names["mehdbd"], most_unnamed) << all;
}

ProcessResult Start(std::vector<std::string> args,
                    std::map<std::string, std::string> env = {}) {
  ProcessSpec spec;
  spec.argv = {BinaryPath("MEHDBD")};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  env.emplace("MEHDB_BIND", "127.0.0.1");
  env.emplace("MEHDB_PEER_PORT", std::to_string(FreePort()));  // not the shared 9877
  spec.env = env;
  spec.timeout = std::chrono::seconds(20);
  return RunProcess(spec);
}

TEST(Process, BadOptionsExitTwoWithOneLineNamingTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    const char* names;
  };
  const Case cases[] = {
      {{"--port=abc"}, {}, "--port"},
      {{}, {{"MEHDB_PORT", "99999"}}, "MEHDB_PORT"},
      {{"--durability=fast"}, {}, "--durability"},
      {{"--max-value-size=lots"}, {}, "--max-value-size"},
      {{"--config=/nonexistent/mehdb.conf"}, {}, "/nonexistent/mehdb.conf"},
      {{"--auth-token-file=/nonexistent/token"}, {}, "--auth-token-file"},
      {{}, {{"MEHDB_AUTH_TOKEN_FILE", "/dev/null"}}, "MEHDB_AUTH_TOKEN_FILE"},
      {{"--auth-reads=closed"}, {}, "--auth-reads"},
      {{"--auth-reads=token"}, {}, "--auth-token-file"},
      {{"--bogus"}, {}, "--bogus"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = Start(c.args, c.env);
    EXPECT_EQ(r.exit_code, 2) << c.names << ": " << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST(Process, HelpAndVersionExitZero) {
  ProcessResult r = Start({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--cluster-domain"), std::string::npos);
  r = Start({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("mehdbd ", 0), 0u);
}

TEST(Process, DataDirectoryIsCreatedOrStartFailsClearly) {
  TempDir dir;
  const int port = FreePort();
  {
    Daemon nested(
        Env{{"MEHDB_HOST", "x"}, {"MEHDB_DATADIR", dir.Sub("a/b/c")}});
    ASSERT_TRUE(nested.up()) << nested.child().Stderr();
    EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("a/b/c")));
  }
  WriteFile(dir.Sub("file"), "not a directory");
  ProcessResult r = Start(
      {"--datadir=" + dir.Sub("file/data"), "--port=" + std::to_string(port)});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot create data directory"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(dir.Sub("file/data")), std::string::npos) << r.err;
}

TEST(Process, PortInUseExitsOne) {
  Daemon first(Env{{"MEHDB_HOST", "x"}});
  ASSERT_TRUE(first.up());
  TempDir dir;
  ProcessResult r = Start({"--port=" + std::to_string(first.port()),
                           "--datadir=" + dir.Sub("data")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot listen"), std::string::npos) << r.err;
}

// One process per store: a second daemon on a live data directory exits 2
// with one line naming the first one's pid, and the first keeps serving
// writes.
TEST(Process, SecondDaemonOnTheSameDataDirectoryExitsTwo) {
  Daemon first(Env{{"MEHDB_HOST", "x"}});
  ASSERT_TRUE(first.up()) << first.child().Stderr();
  ASSERT_EQ(first.Client()->Put("/set/before", "1", "text/plain")->status, 200);
  ProcessResult r = Start({"--port=" + std::to_string(FreePort()),
                           "--datadir=" + first.dir().Sub("data")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("in use by process " + std::to_string(first.child().pid())),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(first.Client()
                  ->Put(("/set/after" + std::to_string(i)).c_str(), "2", "text/plain")
                  ->status,
              200);
  auto got = first.Client()->Get("/get/before");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "1");
}

// A damaged data file: a flipped byte in one value and an out-of-range size
// on another. Each read of them answers 500 with a log line naming the data
// file; the daemon stays up and serves the rest.
TEST(Process, DamagedValuesAnswer500AndTheDaemonStaysUp) {
  TempDir data;
  const Env env{{"MEHDB_HOST", "x"}, {"MEHDB_DATADIR", data.Sub("data")}};
  const std::string flipped(1000, 'F'), sized(1000, 'S');
  {
    Daemon first(env);
    ASSERT_TRUE(first.up()) << first.child().Stderr();
    auto cli = first.Client();
    ASSERT_EQ(cli->Put("/set/flipped", flipped, "text/plain")->status, 200);
    ASSERT_EQ(cli->Put("/set/sized", sized, "text/plain")->status, 200);
    ASSERT_EQ(cli->Put("/set/intact", "fine", "text/plain")->status, 200);
    first.child().Signal(SIGTERM);
    ASSERT_EQ(first.child().Wait(std::chrono::seconds(20)), 0);
  }
  // Stored values are u64 version | u32 crc32c | bytes.
  const std::string file = data.Sub("data/current/data.mdb");
  ASSERT_GE(mehdb::testing::FlipDataByte(file, "flipped", 12 + 1000, 12 + 500), 1);
  ASSERT_GE(mehdb::testing::SetValueSize(file, "sized", 12 + 1000, 0x80000000u), 1);

  Daemon second(env);
  ASSERT_TRUE(second.up()) << second.child().Stderr();
  auto cli = second.Client();
  for (const char* path : {"/get/flipped", "/get/sized"}) {
    auto res = cli->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 500) << path << ": " << res->body;
  }
  auto intact = cli->Get("/get/intact");
  ASSERT_TRUE(intact);
  EXPECT_EQ(intact->status, 200);
  EXPECT_EQ(intact->body, "fine");
  EXPECT_EQ(cli->Get("/healthz")->status, 200);
  // A listing hands out keys only: a value whose bytes fail their checksum
  // is still listed (the damage is reported when it is read), while a value
  // whose size points outside the file stops the scan that meets it.
  auto flipped_keys = cli->Get("/keys?prefix=f");
  ASSERT_TRUE(flipped_keys);
  EXPECT_EQ(flipped_keys->status, 200) << flipped_keys->body;
  EXPECT_EQ(flipped_keys->body, "[\"flipped\"]\n");
  auto sized_keys = cli->Get("/keys?prefix=s");
  ASSERT_TRUE(sized_keys);
  EXPECT_EQ(sized_keys->status, 500) << sized_keys->body;
  const std::string err = second.child().Stderr();
  EXPECT_NE(err.find("does not match its checksum"), std::string::npos) << err;
  EXPECT_NE(err.find("lies outside the data file"), std::string::npos) << err;
  EXPECT_NE(err.find("data.mdb is damaged"), std::string::npos) << err;
}

TEST(Process, KubernetesServiceLinkInMehdbPortIsIgnored) {
  TempDir dir;
  const int port = FreePort();
  ProcessSpec spec;
  spec.argv = {BinaryPath("MEHDBD"), "--port=" + std::to_string(port),
               "--peer-port=" + std::to_string(FreePort())};
  spec.env = {{"MEHDB_PORT", "tcp://10.0.0.1:9876"},
              {"MEHDB_PORT_9876_TCP_PORT", "9876"},
              {"MEHDB_SERVICE_HOST", "10.0.0.1"},
              {"MEHDB_BIND", "127.0.0.1"},
              {"MEHDB_DATADIR", dir.Sub("data")},
              {"MEHDB_HOST", "x"},
              {"MEHDB_DRAIN_DELAY", "0"}};  // the SIGTERM below stops it at once
  Child child(spec, dir.path());
  ASSERT_TRUE(WaitForHttp(port, "/healthz")) << child.Stderr();
  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(std::chrono::seconds(20)), 0);
  EXPECT_NE(child.Stderr().find("ignoring MEHDB_PORT=tcp://10.0.0.1:9876"),
            std::string::npos)
      << child.Stderr();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Polls the child's stderr until `needle` shows up (or 20 s pass).
bool StderrShows(Child& child, const std::string& needle) {
  for (int i = 0; i < 200; ++i) {
    if (child.Stderr().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(Process, StartUpLineLogLinesAndSighup) {
  TempDir config_dir;
  const std::string config = config_dir.Sub("mehdb.conf");
  WriteFile(config, "log-level = info\n");
  const int peer_port = FreePort();
  Daemon daemon(Env{{"MEHDB_HOST", "box"}, {"MEHDB_PORTT", "1"}},
                {"--config=" + config, "--peer-port=" + std::to_string(peer_port)});
  ASSERT_TRUE(daemon.up()) << daemon.child().Stderr();
  // Version, role and every listener in one line.
  const std::string start = daemon.child().Stderr();
  EXPECT_NE(start.find(std::string("mehdbd ") + MEHDB_VERSION + " serving"),
            std::string::npos)
      << start;
  EXPECT_NE(start.find("role standalone"), std::string::npos) << start;
  EXPECT_NE(start.find("api http://127.0.0.1:" + std::to_string(daemon.port())),
            std::string::npos)
      << start;
  EXPECT_NE(start.find("peer http://127.0.0.1:" + std::to_string(peer_port)),
            std::string::npos)
      << start;
  EXPECT_NE(start.find("ignoring MEHDB_PORTT"), std::string::npos) << start;
  const std::regex text_line(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z mehdbd: (info|warning|error): .+)");
  for (const std::string& line : Lines(start))
    EXPECT_TRUE(std::regex_match(line, text_line)) << line;

  // SIGHUP with JSON logs in the file: applied, and the daemon lives on.
  WriteFile(config, "log-level = info\nlog-format = json\n");
  daemon.child().Signal(SIGHUP);
  ASSERT_TRUE(StderrShows(daemon.child(), "\"msg\":\"SIGHUP: log level info, log format json"))
      << daemon.child().Stderr();
  EXPECT_EQ(daemon.Client()->Get("/healthz")->status, 200);
  // A file that no longer parses is reported, and changes nothing.
  WriteFile(config, "log-level = loud\n");
  daemon.child().Signal(SIGHUP);
  ASSERT_TRUE(StderrShows(daemon.child(), "keeping the running one"))
      << daemon.child().Stderr();
  EXPECT_EQ(daemon.Client()->Get("/healthz")->status, 200);

  daemon.child().Signal(SIGTERM);
  EXPECT_EQ(daemon.child().Wait(std::chrono::seconds(20)), 0)
      << daemon.child().Stderr();
  // From the first SIGHUP on, every line is one JSON object.
  const auto lines = Lines(daemon.child().Stderr());
  auto first_json = std::find_if(lines.begin(), lines.end(), [](const auto& l) {
    return !l.empty() && l[0] == '{';
  });
  ASSERT_NE(first_json, lines.end());
  std::string levels;
  for (auto it = first_json; it != lines.end(); ++it) {
    const auto doc = nlohmann::json::parse(*it, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << *it;
    EXPECT_TRUE(doc["time"].is_string()) << *it;
    levels += doc["level"].get<std::string>() + " ";
  }
  EXPECT_EQ(levels, "warning warning info info ") << daemon.child().Stderr();
}

TEST(Process, LogLevelWarningDropsInfoLines) {
  Daemon daemon(Env{{"MEHDB_HOST", "box"}, {"MEHDB_LOG_LEVEL", "warning"}},
                {"--peer-port=" + std::to_string(FreePort())});
  ASSERT_TRUE(daemon.up()) << daemon.child().Stderr();
  daemon.child().Signal(SIGTERM);
  EXPECT_EQ(daemon.child().Wait(std::chrono::seconds(20)), 0);
  EXPECT_EQ(daemon.child().Stderr(), "");  // "serving" and "stopped" are info
}

}  // namespace
}  // namespace mehdb_test

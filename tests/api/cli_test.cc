// SPDX-License-Identifier: MIT
//
// The `mehdb` client against running servers: every command, its exit codes
// (cli/commands.h), values from an argument, a file and stdin, writes sent
// to a follower that follow the 307 to the leader, --token-file against
// servers that require a bearer token; the command line (per-command
// --help, `--`, options anywhere, `-`), files that are replaced only when
// complete, a missing key told from a wrong URL, each kind of connection
// failure, --timeout, -w json (parsed here), conditions, acks and min_seq,
// and the completion script and man page made from the option tables.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <atomic>
#include <sstream>
#include <string>
#include <thread>

#include "harness.h"
#include "auth/authenticator.h"
#include "base/token_file.h"

namespace mehdb_test {
namespace {

class CliTest : public ::testing::Test {
 protected:
  CliTest()
      : leader_(LeaderIdentity(), mehdbd::http::ServerOptions{}),
        follower_(FollowerIdentity(leader_.url()),
                  mehdbd::http::ServerOptions{}) {}

  ProcessResult Run(std::vector<std::string> args, const std::string& url = "",
                    const std::string& stdin_data = "",
                    std::map<std::string, std::string> env = {}) {
    ProcessSpec spec;
    spec.argv = {BinaryPath("MEHDB_CLI"), "--url",
                 url.empty() ? leader_.url() : url};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.stdin_data = stdin_data;
    spec.env = std::move(env);
    // One attempt: these tests check each answer's own exit code
    // (retries are tests/cluster/handoff_test.cc's).
    spec.env.emplace("MEHDB_RETRY_FOR", "0");
    spec.timeout = std::chrono::seconds(60);
    return RunProcess(spec);
  }

  TestServer leader_;
  TestServer follower_;
  TempDir files_;
};

TEST_F(CliTest, PutAndGetFromArgumentFileAndStdin) {
  EXPECT_EQ(Run({"put", "greeting", "hello world"}).exit_code, 0);
  ProcessResult r = Run({"get", "greeting"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello world");  // the raw value, nothing added

  std::string binary;
  for (int i = 0; i < 3000; ++i) binary += static_cast<char>(i % 256);
  WriteFile(files_.Sub("bin"), binary);
  EXPECT_EQ(Run({"put", "bin", "-f", files_.Sub("bin")}).exit_code, 0);
  EXPECT_TRUE(Run({"get", "bin"}).out == binary);
  EXPECT_EQ(Run({"get", "bin", "-o", files_.Sub("out")}).exit_code, 0);
  EXPECT_TRUE(ReadFile(files_.Sub("out")) == binary);

  EXPECT_EQ(Run({"put", "piped"}, "", "from stdin\n").exit_code, 0);
  EXPECT_EQ(Run({"get", "piped"}).out, "from stdin\n");
  EXPECT_EQ(Run({"put", "dash", "-"}, "", "dash").exit_code, 0);
  EXPECT_EQ(Run({"get", "dash"}).out, "dash");
}

TEST_F(CliTest, NotFoundIsExitOne) {
  ProcessResult r = Run({"get", "missing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("not found"), std::string::npos);
  EXPECT_EQ(Run({"delete", "missing"}).exit_code, 1);
}

TEST_F(CliTest, DeleteKeysAndStatus) {
  for (const char* k : {"user-1", "user-2", "user-3", "other"}) {
    ASSERT_EQ(Run({"put", k, "v"}).exit_code, 0);
  }
  EXPECT_EQ(Run({"keys"}).out, "other\nuser-1\nuser-2\nuser-3\n");
  EXPECT_EQ(Run({"keys", "--prefix", "user-"}).out, "user-1\nuser-2\nuser-3\n");
  EXPECT_EQ(Run({"keys", "--prefix", "user-", "--limit", "2"}).out,
            "user-1\nuser-2\n");
  EXPECT_EQ(Run({"delete", "user-2"}).exit_code, 0);
  EXPECT_EQ(Run({"keys", "--prefix", "user-"}).out, "user-1\nuser-3\n");
  EXPECT_EQ(Run({"status"}).out, "leader\n");
  EXPECT_EQ(Run({"status", "--full"}).out, "3\n");
  EXPECT_EQ(Run({"status"}, follower_.url()).out, "follower\n");
}

TEST_F(CliTest, KeysPagesThroughLargeListings) {
  mehdb::Batch batch;
  std::string expected;
  for (int i = 0; i < 2500; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%04d", i);
    batch.Put(key, "v");
    expected += std::string(key) + "\n";
  }
  ASSERT_TRUE(leader_.store().Write(batch).ok());
  ProcessResult r = Run({"keys"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == expected);
}

TEST_F(CliTest, WritesToAFollowerFollowTheRedirect) {
  EXPECT_EQ(Run({"put", "via", "follower"}, follower_.url()).exit_code, 0);
  EXPECT_EQ(Run({"get", "via"}).out, "follower");
  // A body bigger than socket buffers, sent again after the 307.
  std::string big(3 << 20, 'z');
  WriteFile(files_.Sub("big"), big);
  ProcessResult r =
      Run({"put", "big", "-f", files_.Sub("big")}, follower_.url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Run({"get", "big"}).out.size(), big.size());
  EXPECT_EQ(Run({"delete", "via"}, follower_.url()).exit_code, 0);
  EXPECT_EQ(Run({"get", "via"}).exit_code, 1);
}

TEST_F(CliTest, BackupWritesAFileThatOpensAsAStore) {
  ASSERT_EQ(Run({"put", "kept", "in the backup"}).exit_code, 0);
  std::filesystem::create_directories(files_.Sub("restore"));
  ProcessResult r = Run({"backup", files_.Sub("restore/data.mdb")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(files_.Sub("restore/data.mdb.partial")));
  auto store =
      mehdb::Store::Open(files_.Sub("restore"), TestServer::QuickStore());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*(*store)->Get("kept"))->data, "in the backup");
}

TEST_F(CliTest, ErrorsHaveTheirOwnExitCodes) {
  const std::string closed = "http://127.0.0.1:" + std::to_string(FreePort());
  ProcessResult r = Run({"get", "x"}, closed);
  EXPECT_EQ(r.exit_code, 6);  // refused
  EXPECT_NE(r.err.find("mehdb: get x:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("connection refused"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"get", "x"}, "not-a-url").exit_code, 2);
  EXPECT_EQ(Run({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Run({"get"}).exit_code, 2);
  r = Run({"put", "bad key", "v"});  // the server's 400, reported
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("HTTP 400"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"backup", files_.Sub("no/such/dir/file")}).exit_code, 10);
}

TEST_F(CliTest, UrlComesFromMehdbUrl) {
  ProcessSpec spec;
  spec.argv = {BinaryPath("MEHDB_CLI"), "status"};
  spec.env = {{"MEHDB_URL", follower_.url()}};
  ProcessResult r = RunProcess(spec);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "follower\n");
  spec.argv = {BinaryPath("MEHDB_CLI"), "--help"};
  r = RunProcess(spec);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("backup FILE"), std::string::npos);
}

// The client as typed, without the --url that Run() puts first.
ProcessResult Bare(std::vector<std::string> args, const std::string& cwd = "",
                   const std::string& stdin_data = "") {
  ProcessSpec spec;
  spec.argv = {BinaryPath("MEHDB_CLI")};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.cwd = cwd;
  spec.stdin_data = stdin_data;
  return RunProcess(spec);
}

nlohmann::json ParseJson(const ProcessResult& r) {
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << r.out << r.err;
  return doc;
}

TEST_F(CliTest, HelpAfterACommandShowsItsHelpAndTouchesNothing) {
  std::filesystem::create_directories(files_.Sub("cwd"));
  for (const char* command : {"put", "get", "backup", "delete", "keys"}) {
    for (const char* help : {"--help", "-h"}) {
      ProcessResult r = Bare({command, help, "--url", leader_.url()},
                             files_.Sub("cwd"));
      EXPECT_EQ(r.exit_code, 0) << command << " " << help << ": " << r.err;
      EXPECT_NE(r.out.find(std::string("Usage: mehdb [OPTIONS] ") + command),
                std::string::npos)
          << r.out;
    }
  }
  EXPECT_NE(Bare({"put", "--help"}).out.find("--if-version"), std::string::npos);
  EXPECT_EQ(leader_.store().LastSeq(), 0u);  // no key "--help" stored
  EXPECT_TRUE(std::filesystem::is_empty(files_.Sub("cwd")));  // no backup file
  // Before the command, --help is the overall help.
  ProcessResult r = Bare({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("replication"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Exit status"), std::string::npos) << r.out;
}

TEST_F(CliTest, DoubleDashEndsOptionsAndOptionsGoAnywhere) {
  // After --, "-v" is a value and "-k" a key.
  ProcessResult r = Bare({"put", "--url", leader_.url(), "--", "-k", "-v"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Bare({"get", "--", "-k", "--url", leader_.url()});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // --url after -- is an operand
  r = Bare({"get", "-k", "--url", leader_.url()});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // -k is no option of get
  r = Bare({"--url", leader_.url(), "get", "--", "-k"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-v");
  // Global and command options before, between and after the operands.
  ASSERT_EQ(Run({"put", "k", "v"}).exit_code, 0);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"get", "k", "--url", leader_.url(), "-w", "json"},
           {"-w", "json", "get", "--url=" + leader_.url(), "k"},
           {"--url", leader_.url(), "get", "k", "--write-out=json"},
       }) {
    r = Bare(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(ParseJson(r)["value"], "v") << r.out;
  }
  r = Bare({"keys", "--url", leader_.url(), "--limit", "1", "--prefix", "k"});
  EXPECT_EQ(r.out, "k\n") << r.err;
  // No prefix guessing: --pre is not --prefix, --ur is not --url.
  EXPECT_EQ(Bare({"keys", "--url", leader_.url(), "--pre", "k"}).exit_code, 2);
  EXPECT_EQ(Bare({"--ur", leader_.url(), "keys"}).exit_code, 2);
  // Another command's option is refused, not ignored.
  r = Bare({"get", "k", "--url", leader_.url(), "--if-absent"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("if-absent"), std::string::npos) << r.err;
}

TEST_F(CliTest, GetIntoAFileReplacesItOnlyWhenTheValueArrived) {
  const std::string file = files_.Sub("app.conf");
  WriteFile(file, "precious");
  ProcessResult r = Run({"get", "typo-key", "-o", file});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ReadFile(file), "precious");
  const std::string closed = "http://127.0.0.1:" + std::to_string(FreePort());
  EXPECT_EQ(Run({"get", "k", "-o", file}, closed).exit_code, 6);
  EXPECT_EQ(ReadFile(file), "precious");
  ASSERT_EQ(Run({"put", "conf", "new contents"}).exit_code, 0);
  EXPECT_EQ(Run({"get", "conf", "-o", file}).exit_code, 0);
  EXPECT_EQ(ReadFile(file), "new contents");
  // No temporary file is left behind, in any case.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(files_.Sub("")))
    ++entries;
  EXPECT_EQ(entries, 1u);
  // A failed backup likewise leaves the old one.
  const std::string backup = files_.Sub("old.mdb");
  WriteFile(backup, "old backup");
  EXPECT_EQ(Run({"backup", backup}, closed).exit_code, 6);
  EXPECT_EQ(ReadFile(backup), "old backup");
}

TEST_F(CliTest, DashIsStdinAndStdout) {
  std::filesystem::create_directories(files_.Sub("cwd"));
  ASSERT_EQ(Run({"put", "k", "-"}, "", "from stdin").exit_code, 0);
  ASSERT_EQ(Run({"put", "k2", "-f", "-"}, "", "also stdin").exit_code, 0);
  ProcessResult r = Bare({"--url", leader_.url(), "get", "k", "-o", "-"},
                         files_.Sub("cwd"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from stdin");
  EXPECT_EQ(Run({"get", "k2"}).out, "also stdin");
  r = Bare({"--url", leader_.url(), "backup", "-"}, files_.Sub("cwd"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(r.out.size(), 4096u);  // an LMDB file: at least its meta pages
  EXPECT_TRUE(std::filesystem::is_empty(files_.Sub("cwd")));  // no file "-"
}

TEST_F(CliTest, LimitsMustBePositiveWholeNumbers) {
  ASSERT_EQ(Run({"put", "k", "v"}).exit_code, 0);
  for (const auto& limit : std::vector<std::vector<std::string>>{
           {"--limit", "-1"}, {"--limit=-1"}, {"--limit", "0"},
           {"--limit", "abc"}, {"--limit", "18446744073709551616"}}) {
    std::vector<std::string> args = {"keys"};
    args.insert(args.end(), limit.begin(), limit.end());
    ProcessResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << limit.back();
    EXPECT_EQ(r.out, "") << limit.back();
    EXPECT_NE(r.err.find("limit"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Run({"put", "k", "v", "--if-version", "0"}).exit_code, 2);
  EXPECT_EQ(Run({"put", "k", "v", "--acks", "-3"}).exit_code, 2);
  EXPECT_EQ(Run({"get", "k", "--timeout", "soon"}).exit_code, 2);
  EXPECT_EQ(Run({"get", "k", "-w", "yaml"}).exit_code, 2);
}

TEST_F(CliTest, AWrongRouteIsNotAMissingKey) {
  ProcessResult r = Run({"get", "missing"});
  EXPECT_EQ(r.exit_code, 1);
  r = Run({"get", "k"}, leader_.url() + "/v2");  // /v2/get/k: no such path
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("HTTP 404"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--url"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not found"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"delete", "k"}, leader_.url() + "/v2").exit_code, 3);
  EXPECT_EQ(Run({"delete", "k"}).exit_code, 1);
}

TEST_F(CliTest, ConnectionFailuresAreToldApart) {
  // Refused: nothing listens on the port.
  const std::string closed = "http://127.0.0.1:" + std::to_string(FreePort());
  ProcessResult r = Run({"status"}, closed);
  EXPECT_EQ(r.exit_code, 6) << r.err;
  // A name that cannot resolve: a 70-byte label is over DNS's 63-byte limit,
  // so the resolver refuses it without sending any query off this machine.
  const std::string bad_name = "http://" + std::string(70, 'a') + ".test:9876";
  r = Run({"status"}, bad_name);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("cannot resolve"), std::string::npos) << r.err;
  // TLS spoken to a plain-HTTP server: the handshake fails.
  r = Run({"status"}, "https://127.0.0.1:" + std::to_string(leader_.port()));
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
}

TEST_F(CliTest, TimeoutGivesUpOnASilentServer) {
  // A listening socket that never accepts: the kernel completes the TCP
  // handshake, and no byte ever comes back.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string silent =
      "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  ProcessResult r = Run({"get", "k", "--timeout", "300ms"}, silent);
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
  ::close(fd);
}

TEST_F(CliTest, JsonOutputCarriesVersionsAndSeqs) {
  ProcessResult r = Run({"put", "k", "one", "-w", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json put = ParseJson(r);
  EXPECT_EQ(put["key"], "k");
  ASSERT_TRUE(put["seq"].is_number()) << r.out;
  EXPECT_EQ(put["version"], put["seq"]);
  r = Run({"get", "k", "-w", "json"});
  nlohmann::json got = ParseJson(r);
  EXPECT_EQ(got["value"], "one");
  EXPECT_EQ(got["version"], put["version"]);
  EXPECT_GE(got["applied_seq"].get<std::uint64_t>(), put["seq"].get<std::uint64_t>());
  // A value that is not UTF-8 comes as base64.
  ASSERT_EQ(Run({"put", "bin"}, "", std::string("\xff\x00\x01", 3)).exit_code, 0);
  got = ParseJson(Run({"get", "bin", "-w", "json"}));
  EXPECT_EQ(got["value_base64"], "/wAB");
  EXPECT_FALSE(got.contains("value"));
  // Into a file: the JSON says where and how much.
  got = ParseJson(Run({"get", "k", "-w", "json", "-o", files_.Sub("v")}));
  EXPECT_EQ(got["bytes"], 3);
  EXPECT_EQ(ReadFile(files_.Sub("v")), "one");

  nlohmann::json keys = ParseJson(Run({"keys", "-w", "json"}));
  EXPECT_EQ(keys, nlohmann::json::array({"bin", "k"}));
  EXPECT_EQ(ParseJson(Run({"keys", "-w", "json", "--prefix", "zz"})),
            nlohmann::json::array());
  nlohmann::json status = ParseJson(Run({"status", "-w", "json"}));
  EXPECT_EQ(status["role"], "leader");
  EXPECT_EQ(ParseJson(Run({"status", "--full", "-w", "json"}))["keys"], 2);
  EXPECT_EQ(ParseJson(Run({"status", "-w", "json"}, follower_.url()))["role"],
            "follower");
  nlohmann::json del = ParseJson(Run({"delete", "bin", "-w", "json"}));
  EXPECT_GT(del["seq"].get<std::uint64_t>(), put["seq"].get<std::uint64_t>());
  nlohmann::json backup =
      ParseJson(Run({"backup", files_.Sub("b.mdb"), "-w", "json"}));
  EXPECT_EQ(backup["bytes"].get<std::uint64_t>(),
            std::filesystem::file_size(files_.Sub("b.mdb")));
}

TEST_F(CliTest, ConditionalWritesAcksAndMinSeq) {
  nlohmann::json put = ParseJson(Run({"put", "k", "one", "-w", "json"}));
  const std::string version = std::to_string(put["version"].get<std::uint64_t>());
  ProcessResult r = Run({"put", "k", "clash", "--if-absent"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  r = Run({"put", "k", "stale", "--if-version", version + "9"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(Run({"get", "k"}).out, "one");  // neither was written
  EXPECT_EQ(Run({"put", "k", "two", "--if-version", version}).exit_code, 0);
  EXPECT_EQ(Run({"get", "k"}).out, "two");
  EXPECT_EQ(Run({"put", "new", "x", "--if-absent"}).exit_code, 0);
  EXPECT_EQ(Run({"delete", "k", "--if-version", version}).exit_code, 4);
  EXPECT_EQ(Run({"put", "k", "x", "--if-absent", "--if-version", "1"}).exit_code, 2);

  // No follower acknowledges this leader's writes: 202, stored, exit 5.
  r = Run({"put", "acked", "v", "--acks", "1", "--ack-timeout", "100ms",
           "-w", "json"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(ParseJson(r)["acks"], 0);
  EXPECT_EQ(Run({"get", "acked"}).out, "v");
  EXPECT_EQ(Run({"put", "acked", "v", "--acks", "0"}).exit_code, 0);

  const std::uint64_t last = leader_.store().LastSeq();
  r = Run({"get", "acked", "--min-seq", std::to_string(last)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Beyond what the leader has: 503 after its --max-seq-wait.
  r = Run({"get", "acked", "--min-seq", std::to_string(last + 100)});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("HTTP 503"), std::string::npos) << r.err;
  r = Run({"keys", "--min-seq", std::to_string(last)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliTest, ReplicationShowsThePeerSyncState) {
  ProcessResult r = Run({"replication", "-w", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r);
  EXPECT_EQ(doc["role"], "leader");
  EXPECT_TRUE(doc["last_seq"].is_number());
  // Text: the same document, indented.
  r = Run({"replication"});
  EXPECT_NE(r.out.find("\n  \"role\": \"leader\""), std::string::npos) << r.out;
}

TEST_F(CliTest, WatchPrintsChangesInOrder) {
  ASSERT_EQ(Run({"put", "app-a", "1"}).exit_code, 0);
  ASSERT_EQ(Run({"put", "app-b", "two\nlines"}).exit_code, 0);
  ASSERT_EQ(Run({"put", "other", "x"}).exit_code, 0);
  ASSERT_EQ(Run({"delete", "app-a"}).exit_code, 0);
  ProcessResult r = Run({"watch", "app-", "--from", "1", "--count", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 put app-a 1\n2 put app-b <9 bytes>\n4 delete app-a\n");
  r = Run({"--count", "2", "watch", "-w", "json", "--from=2", "--sizes-only"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string first, second;
  ASSERT_TRUE(std::getline(lines, first) && std::getline(lines, second)) << r.out;
  EXPECT_EQ(nlohmann::json::parse(first),
            nlohmann::json::parse(R"({"seq":2,"op":"put","key":"app-b","size":9})"));
  EXPECT_EQ(nlohmann::json::parse(second)["key"], "other");
  // Following: without --from, changes made after it started.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done.load() && i < 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      EXPECT_EQ(leader_.Client()->Put("/set/app-new", "v", "text/plain")->status, 200);
    }
  });
  r = Run({"watch", "app-", "--count", "1", "--timeout", "4s"});
  done.store(true);
  writer.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" put app-new v\n"), std::string::npos) << r.out;
  EXPECT_EQ(Run({"watch", "--from", "0"}).exit_code, 2);
}

TEST_F(CliTest, WatchFromATrimmedLogExitsElevenAndSaysToRelist) {
  mehdb::Options store = TestServer::QuickStore();
  store.log_retain_entries = 5;
  TestServer server(LeaderIdentity(), {}, store);
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(server.Client()->Put(("/set/k" + std::to_string(i)).c_str(), "v", "text/plain")->status,
              200);
  ProcessResult r;
  for (int i = 0; i < 50; ++i) {  // trimming may trail the acknowledgements
    r = Run({"watch", "--from", "1", "--count", "1"}, server.url());
    if (r.exit_code == 11) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(r.exit_code, 11) << r.err;
  EXPECT_NE(r.err.find("mehdb keys"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("oldest retained change is seq "), std::string::npos) << r.err;
}

TEST_F(CliTest, CompletionAndManPageComeFromTheOptionTables) {
  ProcessResult script = Bare({"completion", "bash"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  WriteFile(files_.Sub("complete.bash"), script.out);
  // Runs bash's completion function as bash would for the words typed.
  auto complete = [&](const std::string& words, int cword) {
    ProcessSpec spec;
    spec.argv = {"/bin/bash", "-c",
                 "source " + files_.Sub("complete.bash") + "; COMP_WORDS=(" +
                     words + "); COMP_CWORD=" + std::to_string(cword) +
                     "; _mehdb; printf '%s\\n' \"${COMPREPLY[@]}\""};
    ProcessResult r = RunProcess(spec);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(complete("mehdb re", 1), "replication\n");
  EXPECT_EQ(complete("mehdb put k --if-", 3), "--if-version\n--if-absent\n");
  EXPECT_EQ(complete("mehdb --url http://x get --min", 4), "--min-seq\n");
  EXPECT_EQ(complete("mehdb get k -w ''", 4), "text\njson\n");
  EXPECT_EQ(complete("mehdb completion z", 2), "zsh\n");
  EXPECT_EQ(Bare({"completion", "fish"}).exit_code, 2);
  EXPECT_NE(Bare({"completion", "zsh"}).out.find("bashcompinit"),
            std::string::npos);

  ProcessResult man = Bare({"manual"});
  ASSERT_EQ(man.exit_code, 0);
  for (const char* option :
       {"\\-\\-if\\-version", "\\-\\-min\\-seq", "\\-\\-timeout", "\\-\\-acks",
        "\\-\\-write\\-out", ".SS mehdb [OPTIONS] replication", "MEHDB_URL"}) {
    EXPECT_NE(man.out.find(option), std::string::npos) << option;
  }
  // groff renders it without a warning.
  WriteFile(files_.Sub("mehdb.1"), man.out);
  ProcessSpec groff;
  groff.argv = {"/bin/sh", "-c",
                "command -v groff >/dev/null || exit 0; groff -man -Tutf8 -ww "
                "-z " + files_.Sub("mehdb.1") + " 2>&1"};
  groff.env = {{"PATH", "/usr/bin:/bin"}};
  ProcessResult rendered = RunProcess(groff);
  EXPECT_EQ(rendered.exit_code, 0);
  EXPECT_EQ(rendered.out, "");
}

// A leader and a follower that both require the token in `token` for
// writes and reads.
class CliAuthTest : public ::testing::Test {
 protected:
  CliAuthTest()
      : token_path_(WriteToken(files_.Sub("token"), "cli-token\n")),
        token_(Open(token_path_)),
        auth_(*token_, mehdbd::auth::ReadPolicy::kToken),
        leader_(LeaderIdentity(), {}, TestServer::QuickStore(), "", &auth_),
        follower_(FollowerIdentity(leader_.url()), {}, TestServer::QuickStore(),
                  "", &auth_) {}

  static std::string WriteToken(const std::string& path,
                                const std::string& text) {
    WriteFile(path, text);
    return path;
  }
  static std::unique_ptr<mehdbd::TokenFile> Open(const std::string& path) {
    std::string error;
    auto file = mehdbd::TokenFile::Open(path, error);
    EXPECT_TRUE(file) << error;
    return file;
  }
  ProcessResult Run(std::vector<std::string> args,
                    std::map<std::string, std::string> env = {}) {
    ProcessSpec spec;
    spec.argv = {BinaryPath("MEHDB_CLI")};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = std::move(env);
    return RunProcess(spec);
  }

  TempDir files_;
  std::string token_path_;
  std::unique_ptr<mehdbd::TokenFile> token_;
  mehdbd::auth::Authenticator auth_;
  TestServer leader_;
  TestServer follower_;
};

TEST_F(CliAuthTest, TokenFileIsSentEvenAcrossTheRedirect) {
  ProcessResult r = Run({"--url", follower_.url(), "--token-file", token_path_,
                         "put", "k", "v"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Run({"--url=" + leader_.url(), "--token-file=" + token_path_, "get", "k"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "v");
  r = Run({"--url", leader_.url(), "keys"}, {{"MEHDB_TOKEN_FILE", token_path_}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "k\n");
  r = Run({"--url", follower_.url(), "status"},
          {{"MEHDB_TOKEN_FILE", token_path_}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "follower\n");
  r = Run({"--url", leader_.url(), "--token-file", token_path_, "backup",
           files_.Sub("backup.mdb")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliAuthTest, MissingWrongOrUnreadableTokensAreExitTwo) {
  ProcessResult r = Run({"--url", leader_.url(), "put", "k", "v"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;
  WriteFile(files_.Sub("wrong"), "not-it");
  r = Run({"--url", leader_.url(), "--token-file", files_.Sub("wrong"), "put",
           "k", "v"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("HTTP 403"), std::string::npos) << r.err;
  EXPECT_EQ(leader_.store().LastSeq(), 0u);
  r = Run({"--url", leader_.url(), "get", "k"});
  EXPECT_EQ(r.exit_code, 3);  // a refusal is not "not found"
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;

  r = Run({"--url", leader_.url(), "--token-file", files_.Sub("missing"),
           "status"});
  EXPECT_EQ(r.exit_code, 10);
  EXPECT_NE(r.err.find("--token-file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(files_.Sub("missing")), std::string::npos) << r.err;
  WriteFile(files_.Sub("empty"), "");
  r = Run({"--url", leader_.url(), "status"},
          {{"MEHDB_TOKEN_FILE", files_.Sub("empty")}});
  EXPECT_EQ(r.exit_code, 10);
  EXPECT_NE(r.err.find("is empty"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mehdb_test

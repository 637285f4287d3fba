// SPDX-License-Identifier: MIT
//
// The `mehdb` client against running servers: every command, its exit codes
// (0 ok, 1 not found, 2 error), values from an argument, a file and stdin,
// writes sent to a follower that follow the 307 to the leader, and
// --token-file against servers that require a bearer token.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "harness.h"
#include "http/auth.h"
#include "token_file.h"

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

TEST_F(CliTest, ErrorsAreExitTwo) {
  const std::string closed = "http://127.0.0.1:" + std::to_string(FreePort());
  ProcessResult r = Run({"get", "x"}, closed);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mehdb: get x:"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"get", "x"}, "not-a-url").exit_code, 2);
  EXPECT_EQ(Run({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Run({"get"}).exit_code, 2);
  r = Run({"put", "bad key", "v"});  // the server's 400, reported
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("HTTP 400"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"backup", files_.Sub("no/such/dir/file")}).exit_code, 2);
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

// A leader and a follower that both require the token in `token` for
// writes and reads.
class CliAuthTest : public ::testing::Test {
 protected:
  CliAuthTest()
      : token_path_(WriteToken(files_.Sub("token"), "cli-token\n")),
        token_(Open(token_path_)),
        auth_(*token_, mehdbd::http::ReadPolicy::kToken),
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
  mehdbd::http::Authenticator auth_;
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
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;
  WriteFile(files_.Sub("wrong"), "not-it");
  r = Run({"--url", leader_.url(), "--token-file", files_.Sub("wrong"), "put",
           "k", "v"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("HTTP 403"), std::string::npos) << r.err;
  EXPECT_EQ(leader_.store().LastSeq(), 0u);
  r = Run({"--url", leader_.url(), "get", "k"});
  EXPECT_EQ(r.exit_code, 2);  // a refusal is not "not found"
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;

  r = Run({"--url", leader_.url(), "--token-file", files_.Sub("missing"),
           "status"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--token-file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(files_.Sub("missing")), std::string::npos) << r.err;
  WriteFile(files_.Sub("empty"), "");
  r = Run({"--url", leader_.url(), "status"},
          {{"MEHDB_TOKEN_FILE", files_.Sub("empty")}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is empty"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mehdb_test

// SPDX-License-Identifier: MIT
//
// Configuration and identity, without starting anything: value syntaxes,
// the flag > env > file > default priority, Kubernetes' MEHDB_PORT service
// link, unknown MEHDB_* variables, no prefix guessing, one-line errors naming
// the option, role derivation, and the log line formats.
#include "config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "harness.h"
#include "config/identity.h"
#include "base/log.h"
#include "base/units.h"

namespace mehdb_test {
namespace {

using mehdbd::Config;
using mehdbd::ConfigOutcome;

ConfigOutcome Parse(std::vector<std::string> args,
                    std::vector<std::string> env = {}) {
  args.insert(args.begin(), "mehdbd");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return mehdbd::ParseConfig(static_cast<int>(argv.size()), argv.data(), env);
}

TEST(Units, Sizes) {
  using mehdbd::ParseSize;
  EXPECT_EQ(std::get<std::uint64_t>(ParseSize("4096")), 4096u);
  EXPECT_EQ(std::get<std::uint64_t>(ParseSize("64M")), 64u << 20);
  EXPECT_EQ(std::get<std::uint64_t>(ParseSize("64MiB")), 64u << 20);
  EXPECT_EQ(std::get<std::uint64_t>(ParseSize("1gib")), 1u << 30);
  EXPECT_EQ(std::get<std::uint64_t>(ParseSize("2K")), 2048u);
  EXPECT_EQ(std::get<std::uint64_t>(ParseSize("1T")), std::uint64_t{1} << 40);
  for (const char* bad :
       {"", "M", "1.5G", "64 M", "-1", "64MB", "12Q", "99999999999T"}) {
    EXPECT_TRUE(std::holds_alternative<std::string>(ParseSize(bad))) << bad;
  }
}

TEST(Units, DurationsAndBools) {
  using mehdbd::ParseDuration;
  using std::chrono::milliseconds;
  EXPECT_EQ(std::get<milliseconds>(ParseDuration("500ms")), milliseconds(500));
  EXPECT_EQ(std::get<milliseconds>(ParseDuration("5s")), milliseconds(5000));
  EXPECT_EQ(std::get<milliseconds>(ParseDuration("5")), milliseconds(5000));
  EXPECT_EQ(std::get<milliseconds>(ParseDuration("2m")), milliseconds(120000));
  for (const char* bad : {"", "5x", "1.5s", "s", "-5s"}) {
    EXPECT_TRUE(std::holds_alternative<std::string>(ParseDuration(bad))) << bad;
  }
  EXPECT_TRUE(std::get<bool>(mehdbd::ParseBool("Yes")));
  EXPECT_FALSE(std::get<bool>(mehdbd::ParseBool("off")));
  EXPECT_TRUE(std::holds_alternative<std::string>(mehdbd::ParseBool("maybe")));
}

TEST(Config, DefaultsMatchTheOriginal) {
  const ConfigOutcome out = Parse({});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.port, 9876);
  EXPECT_EQ(out.config.datadir, "./data");
  EXPECT_EQ(out.config.ns, "default");
  EXPECT_EQ(out.config.bind, "0.0.0.0");
  EXPECT_EQ(out.config.store.durability, mehdb::Durability::kSync);
  EXPECT_EQ(out.config.key_rule, mehdbd::KeyRule::kExtended);
}

TEST(Config, FlagBeatsEnvBeatsFileBeatsDefault) {
  TempDir dir;
  WriteFile(dir.Sub("mehdb.conf"),
            "# comment\nport = 1111\ndatadir = /from/file\nnamespace = filens\n"
            "service = filesvc\n");
  const ConfigOutcome out =
      Parse({"--port=3333", "--config", dir.Sub("mehdb.conf")},
            {"MEHDB_PORT=2222", "MEHDB_DATADIR=/from/env", "PATH=/bin"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.port, 3333);            // flag
  EXPECT_EQ(out.config.datadir, "/from/env");  // env over file
  EXPECT_EQ(out.config.ns, "filens");          // file over default
  EXPECT_EQ(out.config.service, "filesvc");
  EXPECT_EQ(out.config.cluster_domain, "cluster.local");  // default
  // MEHDB_CONFIG names the file too.
  const ConfigOutcome env_file =
      Parse({}, {"MEHDB_CONFIG=" + dir.Sub("mehdb.conf")});
  EXPECT_EQ(env_file.config.port, 1111);
}

TEST(Config, EveryOptionHasItsEnvironmentVariable) {
  const ConfigOutcome out = Parse(
      {}, {"MEHDB_HOST=db-3", "MEHDB_BIND=127.0.0.1",
           "MEHDB_CLUSTER_DOMAIN=corp.local", "MEHDB_LEADER_URL=http://lead:1/",
           "MEHDB_LOCAL=yes", "MEHDB_DURABILITY=nosync", "MEHDB_MAP_SIZE=1MiB",
           "MEHDB_MAX_MAP_SIZE=2G", "MEHDB_MAX_VALUE_SIZE=1K",
           "MEHDB_LOG_RETAIN_ENTRIES=7", "MEHDB_LOG_RETAIN_BYTES=1M",
           "MEHDB_WAL_SEGMENT_SIZE=1M", "MEHDB_MAX_UNAPPLIED=2M", "MEHDB_APPLY_BATCH=3M",
           "MEHDB_KEY_RULE=original", "MEHDB_THREADS=3",
           "MEHDB_READ_TIMEOUT=100ms", "MEHDB_WRITE_TIMEOUT=2s",
           "MEHDB_IDLE_TIMEOUT=1m", "MEHDB_KEEP_ALIVE_REQUESTS=9",
           "MEHDB_MAX_SEQ_WAIT=0", "MEHDB_ACCESS_LOG=on"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  const Config& c = out.config;
  EXPECT_EQ(c.host, "db-3");
  EXPECT_EQ(c.bind, "127.0.0.1");
  EXPECT_EQ(c.cluster_domain, "corp.local");
  EXPECT_EQ(c.leader_url, "http://lead:1");  // trailing slash dropped
  EXPECT_EQ(c.local, "yes");
  EXPECT_EQ(c.store.durability, mehdb::Durability::kNoSync);
  EXPECT_EQ(c.store.map_bytes, 1u << 20);
  EXPECT_EQ(c.store.max_map_bytes, std::uint64_t{2} << 30);
  EXPECT_EQ(c.store.max_value_bytes, 1024u);
  EXPECT_EQ(c.store.log_retain_entries, 7u);
  EXPECT_EQ(c.store.log_retain_bytes, 1u << 20);
  EXPECT_EQ(c.store.wal_segment_bytes, 1u << 20);
  EXPECT_EQ(c.store.max_unapplied_bytes, 2u << 20);
  EXPECT_EQ(c.store.apply_batch_bytes, 3u << 20);
  EXPECT_EQ(c.key_rule, mehdbd::KeyRule::kOriginal);
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.read_timeout, std::chrono::milliseconds(100));
  EXPECT_EQ(c.write_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c.idle_timeout, std::chrono::minutes(1));
  EXPECT_EQ(c.keep_alive_requests, 9u);
  EXPECT_EQ(c.max_seq_wait, std::chrono::milliseconds(0));
  EXPECT_TRUE(c.access_log);
}

TEST(Config, UnknownMehdbVariablesAndServiceLinksAreIgnoredWithANote) {
  const ConfigOutcome out = Parse(
      {}, {"MEHDB_PORT=tcp://10.0.0.1:9876",
           "MEHDB_PORT_9876_TCP=tcp://10.0.0.1:9876",
           "MEHDB_PORT_9876_TCP_ADDR=10.0.0.1", "MEHDB_SERVICE_HOST=10.0.0.1",
           "MEHDB_SERVICE_PORT=9876", "MEHDB_SOMETHING=else", "MEHDB_HELP=1",
           "MEHDB_VERSION=9", "MEHDB_DATADIR="});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.port, 9876);
  EXPECT_EQ(out.config.service, "mehdb");
  EXPECT_EQ(out.config.datadir, "./data");  // empty means unset
  ASSERT_EQ(out.notes.size(), 5u);
  EXPECT_NE(out.notes[0].find("MEHDB_PORT=tcp://10.0.0.1:9876"),
            std::string::npos);
  // One line for all service links, one per other unknown name.
  EXPECT_EQ(out.notes[4],
            "ignoring MEHDB_PORT_9876_TCP, MEHDB_PORT_9876_TCP_ADDR, "
            "MEHDB_SERVICE_HOST, MEHDB_SERVICE_PORT: Kubernetes service links, "
            "no mehdbd options (set enableServiceLinks: false)");
  EXPECT_NE(out.notes[1].find("ignoring MEHDB_SOMETHING"), std::string::npos);
}

TEST(Config, BadValuesAreOneLineNamingTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    const char* names;
  };
  const Case cases[] = {
      {{"--port=abc"}, {}, "--port"},
      {{"--port=70000"}, {}, "--port"},
      {{}, {"MEHDB_PORT=0"}, "MEHDB_PORT"},
      {{"--durability=fast"}, {}, "--durability"},
      {{"--map-size=12Q"}, {}, "--map-size"},
      {{"--max-value-size=2G"}, {}, "--max-value-size"},
      {{"--read-timeout=5x"}, {}, "--read-timeout"},
      {{"--idle-timeout=10ms"}, {}, "--idle-timeout"},
      {{"--key-rule=loose"}, {}, "--key-rule"},
      {{"--threads=0"}, {}, "--threads"},
      {{"--access-log=maybe"}, {}, "--access-log"},
      {{"--leader-url=leader:9876"}, {}, "--leader-url"},
      {{"--namespace=a/b"}, {}, "--namespace"},
      {{"--map-size=1G", "--max-map-size=64M"}, {}, "--max-map-size"},
      {{"--max-unapplied=64K"}, {}, "--max-unapplied"},
      {{"--wal-segment-size=1K"}, {}, "--wal-segment-size"},
      {{"--bogus"}, {}, "--bogus"},
      {{"--port"}, {}, "port"},
      {{"stray"}, {}, "stray"},
  };
  for (const Case& c : cases) {
    const ConfigOutcome out = Parse(c.args, c.env);
    EXPECT_EQ(out.action, ConfigOutcome::Action::kError) << c.names;
    EXPECT_NE(out.text.find(c.names), std::string::npos) << out.text;
    EXPECT_EQ(out.text.find('\n'), std::string::npos) << out.text;
  }
}

TEST(Config, AuthOptions) {
  TempDir dir;
  WriteFile(dir.Sub("token"), "abc\n");
  ConfigOutcome out = Parse({});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.auth_token_file, "");
  EXPECT_FALSE(out.config.auth_reads_need_token);

  out = Parse({"--auth-token-file=" + dir.Sub("token"), "--auth-reads=token"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.auth_token_file, dir.Sub("token"));
  EXPECT_TRUE(out.config.auth_reads_need_token);
  out = Parse({}, {"MEHDB_AUTH_TOKEN_FILE=" + dir.Sub("token"),
                   "MEHDB_AUTH_READS=open"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.auth_token_file, dir.Sub("token"));
  EXPECT_FALSE(out.config.auth_reads_need_token);
  WriteFile(dir.Sub("mehdb.conf"),
            "auth-token-file = " + dir.Sub("token") + "\nauth-reads = token\n");
  out = Parse({"--config=" + dir.Sub("mehdb.conf")});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.auth_token_file, dir.Sub("token"));
  EXPECT_TRUE(out.config.auth_reads_need_token);

  WriteFile(dir.Sub("empty"), "\n");
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    const char* names;
    const char* says;
  };
  const Case cases[] = {
      {{"--auth-token-file=" + dir.Sub("missing")}, {}, "--auth-token-file",
       "No such file"},
      {{"--auth-token-file=" + dir.Sub("empty")}, {}, "--auth-token-file",
       "is empty"},
      {{"--auth-token-file=" + dir.path()}, {}, "--auth-token-file",
       "Is a directory"},
      {{}, {"MEHDB_AUTH_TOKEN_FILE=" + dir.Sub("empty")},
       "MEHDB_AUTH_TOKEN_FILE", "is empty"},
      {{"--auth-reads=maybe"}, {}, "--auth-reads", "expected open or token"},
      {{"--auth-reads=token"}, {}, "--auth-reads=token",
       "needs --auth-token-file"},
  };
  for (const Case& c : cases) {
    out = Parse(c.args, c.env);
    EXPECT_EQ(out.action, ConfigOutcome::Action::kError) << c.names;
    EXPECT_NE(out.text.find(c.names), std::string::npos) << out.text;
    EXPECT_NE(out.text.find(c.says), std::string::npos) << out.text;
    EXPECT_EQ(out.text.find('\n'), std::string::npos) << out.text;
  }
}

TEST(Config, ConfigFileErrorsNameTheFile) {
  TempDir dir;
  WriteFile(dir.Sub("bad.conf"), "port = nope\n");
  ConfigOutcome out = Parse({"--config=" + dir.Sub("bad.conf")});
  EXPECT_EQ(out.action, ConfigOutcome::Action::kError);
  EXPECT_NE(out.text.find("bad.conf"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("port"), std::string::npos) << out.text;
  WriteFile(dir.Sub("unknown.conf"), "colour = blue\n");
  out = Parse({"--config=" + dir.Sub("unknown.conf")});
  EXPECT_EQ(out.action, ConfigOutcome::Action::kError);
  EXPECT_NE(out.text.find("colour"), std::string::npos) << out.text;
  out = Parse({"--config=" + dir.Sub("missing.conf")});
  EXPECT_EQ(out.action, ConfigOutcome::Action::kError);
  EXPECT_NE(out.text.find("missing.conf"), std::string::npos) << out.text;
}

// Found while writing the config fuzzer (tests/fuzz/config_fuzz.cc): --config
// naming a FIFO hung the start-up, and /dev/zero was read until memory ran
// out.
TEST(Config, ConfigFileMustBeASmallRegularFile) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.Sub("fifo").c_str(), 0600), 0);
  for (const std::string& path :
       {dir.path(), std::string("/dev/zero"), dir.Sub("fifo")}) {
    const ConfigOutcome out = Parse({"--config=" + path});
    EXPECT_EQ(out.action, ConfigOutcome::Action::kError) << path;
    EXPECT_NE(out.text.find("regular file"), std::string::npos) << out.text;
    EXPECT_EQ(out.text.find('\n'), std::string::npos) << out.text;
  }
  WriteFile(dir.Sub("big.conf"), std::string((1 << 20) + 1, '#'));
  const ConfigOutcome big = Parse({"--config=" + dir.Sub("big.conf")});
  EXPECT_EQ(big.action, ConfigOutcome::Action::kError);
  EXPECT_NE(big.text.find("larger than"), std::string::npos) << big.text;
}

// Found by tests/fuzz/config_fuzz.cc: program_options' error text
// substitutes the offending token for "%original_token%" until none is left,
// so a token containing that placeholder hung ParseConfig forever.
TEST(Config, PlaceholdersInOffendingTextDoNotHang) {
  TempDir dir;
  WriteFile(dir.Sub("p.conf"), "%value% = 1\n");
  const std::vector<ConfigOutcome> outs = {
      Parse({"-%original_token%"}),
      Parse({"--%canonical_option%=1"}),
      Parse({"--port"}, {"MEHDB_NOTE=%value%"}),
      Parse({"--config=" + dir.Sub("p.conf")}),
  };
  for (const ConfigOutcome& out : outs) {
    EXPECT_EQ(out.action, ConfigOutcome::Action::kError);
    EXPECT_TRUE(out.text.starts_with("mehdbd: ")) << out.text;
    EXPECT_EQ(out.text.find('\n'), std::string::npos) << out.text;
  }
}

TEST(Config, HelpListsEveryOption) {
  const ConfigOutcome out = Parse({"--help"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kHelp);
  for (const char* name : {"--host",
                           "--port",
                           "--bind",
                           "--datadir",
                           "--namespace",
                           "--service",
                           "--cluster-domain",
                           "--leader-url",
                           "--local",
                           "--config",
                           "--durability",
                           "--map-size",
                           "--max-map-size",
                           "--max-value-size",
                           "--log-retain-entries",
                           "--log-retain-bytes",
                           "--wal-segment-size",
                           "--max-unapplied",
                           "--apply-batch",
                           "--key-rule",
                           "--threads",
                           "--read-timeout",
                           "--write-timeout",
                           "--idle-timeout",
                           "--keep-alive-requests",
                           "--max-seq-wait",
                           "--access-log",
                           "--auth-token-file",
                           "--auth-reads",
                           "MEHDB_AUTH_TOKEN_FILE",
                           "--version",
                           "MEHDB_CLUSTER_DOMAIN"}) {
    EXPECT_NE(out.text.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(Parse({"--version"}).action, ConfigOutcome::Action::kVersion);
}

mehdbd::Identity IdentityFor(std::vector<std::string> args) {
  const ConfigOutcome out = Parse(std::move(args));
  EXPECT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  return mehdbd::DeriveIdentity(out.config);
}

TEST(Identity, RoleFromTheHostName) {
  auto id = IdentityFor({"--host=mehdb-0"});
  EXPECT_EQ(id.role, mehdbd::Role::kLeader);
  EXPECT_EQ(id.StatusWord(), "leader");

  id = IdentityFor({"--host=mehdb-2", "--namespace=prod", "--port=7000"});
  EXPECT_EQ(id.role, mehdbd::Role::kFollower);
  EXPECT_EQ(id.leader_url, "http://mehdb-0.mehdb.prod.svc.cluster.local:7000");
  EXPECT_EQ(id.StatusWord(), "follower");

  id = IdentityFor({"--host=cache-db-12.cache-db.ns.svc.cluster.local",
                    "--service=cache-db", "--namespace=ns",
                    "--cluster-domain=k8s.example"});
  EXPECT_EQ(id.set, "cache-db");
  EXPECT_EQ(id.leader_url,
            "http://cache-db-0.cache-db.ns.svc.k8s.example:9876");

  for (const char* standalone :
       {"laptop", "web-server", "mehdb-", "-3", "node-1a"}) {
    id = IdentityFor({std::string("--host=") + standalone});
    EXPECT_EQ(id.role, mehdbd::Role::kStandalone) << standalone;
    EXPECT_EQ(id.StatusWord(), "leader");
  }
}

TEST(Identity, LeaderUrlAndLocalOverride) {
  auto id =
      IdentityFor({"--host=mehdb-3", "--leader-url=http://leader.svc:9876"});
  EXPECT_EQ(id.role, mehdbd::Role::kFollower);
  EXPECT_EQ(id.leader_url, "http://leader.svc:9876");
  id = IdentityFor({"--host=mehdb-0", "--leader-url=http://leader.svc:9876"});
  EXPECT_EQ(id.role, mehdbd::Role::kLeader);  // ordinal 0 still leads
  id = IdentityFor({"--host=laptop", "--leader-url=http://leader.svc:9876"});
  EXPECT_EQ(id.role, mehdbd::Role::kFollower);
  // MEHDB_LOCAL: the original's local-development follower.
  id = IdentityFor({"--host=mehdb-0", "--local"});
  EXPECT_EQ(id.role, mehdbd::Role::kFollower);
  EXPECT_EQ(id.leader_url, "http://localhost:9999");
}

TEST(Identity, AMachineNamedLikeAPodIsStandaloneOutsideKubernetes) {
  const ConfigOutcome out = Parse({});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  for (const char* machine : {"buildbox-2", "buildbox-0", "laptop"}) {
    const auto id = mehdbd::DeriveIdentity(out.config, machine);
    EXPECT_EQ(id.role, mehdbd::Role::kStandalone) << machine;
    EXPECT_EQ(id.host, machine);
    EXPECT_EQ(id.leader_url, "");
  }
  // In a pod (the kubelet sets KUBERNETES_SERVICE_HOST), the machine's
  // name is the pod's name and its ordinal counts.
  const ConfigOutcome pod = Parse({}, {"KUBERNETES_SERVICE_HOST=10.96.0.1"});
  ASSERT_EQ(pod.action, ConfigOutcome::Action::kRun) << pod.text;
  EXPECT_TRUE(pod.config.in_kubernetes);
  auto id = mehdbd::DeriveIdentity(pod.config, "mehdb-2");
  EXPECT_EQ(id.role, mehdbd::Role::kFollower);
  EXPECT_EQ(id.leader_url, "http://mehdb-0.mehdb.default.svc.cluster.local:9876");
  EXPECT_EQ(mehdbd::DeriveIdentity(pod.config, "mehdb-0").role,
            mehdbd::Role::kLeader);
  // An explicit --host counts anywhere, and --leader-url makes a follower.
  EXPECT_EQ(mehdbd::DeriveIdentity(Parse({"--host=buildbox-2"}).config, "x").role,
            mehdbd::Role::kFollower);
  EXPECT_EQ(mehdbd::DeriveIdentity(
                Parse({"--leader-url=http://127.0.0.1:1"}).config, "buildbox-2")
                .role,
            mehdbd::Role::kFollower);
}

TEST(Config, OptionNamesAreNeverGuessedFromAPrefix) {
  for (const char* prefix : {"--dat=x", "--data=x", "--por=1", "--log-lev=info"}) {
    const ConfigOutcome out = Parse({prefix});
    EXPECT_EQ(out.action, ConfigOutcome::Action::kError) << prefix;
    EXPECT_NE(out.text.find("unrecognised option"), std::string::npos)
        << out.text;
  }
  EXPECT_EQ(Parse({"--datadir=x"}).config.datadir, "x");
}

TEST(Config, UnknownMehdbVariablesAreNoted) {
  const ConfigOutcome out = Parse(
      {}, {"MEHDB_PORTT=1", "MEHDB_DATADRI=/x", "MEHDB_URL=http://x",
           "MEHDB_TOKEN_FILE=t", "MEHDB_LEADER_SERVICE_HOST=10.0.0.2",
           "MEHDB_ZZZZZZZZ=1", "MEHDB_PORT=7000", "OTHER_PORTT=1"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.port, 7000);
  std::string notes;
  for (const auto& n : out.notes) notes += n + "\n";
  EXPECT_EQ(out.notes.size(), 4u) << notes;
  EXPECT_NE(notes.find("ignoring MEHDB_PORTT: mehdbd has no such option (did "
                       "you mean MEHDB_PORT?)"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("MEHDB_DATADRI: mehdbd has no such option (did you "
                       "mean MEHDB_DATADIR?)"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("ignoring MEHDB_LEADER_SERVICE_HOST: Kubernetes "
                       "service links"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("ignoring MEHDB_ZZZZZZZZ: mehdbd has no such option\n"),
            std::string::npos)
      << notes;
  EXPECT_EQ(notes.find("MEHDB_URL"), std::string::npos) << notes;  // the client's
}

TEST(Config, LogLevelAndFormat) {
  ConfigOutcome out = Parse({"--log-level=warning"}, {"MEHDB_LOG_FORMAT=json"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.log_level, mehdbd::LogLevel::kWarning);
  EXPECT_EQ(out.config.log_format, mehdbd::LogFormat::kJson);
  out = Parse({});
  EXPECT_EQ(out.config.log_level, mehdbd::LogLevel::kInfo);
  EXPECT_EQ(out.config.log_format, mehdbd::LogFormat::kText);
  out = Parse({"--log-level=debug"});
  EXPECT_EQ(out.action, ConfigOutcome::Action::kError);
  EXPECT_NE(out.text.find("--log-level"), std::string::npos) << out.text;
  out = Parse({"--log-format=yaml"});
  EXPECT_EQ(out.action, ConfigOutcome::Action::kError);
  EXPECT_NE(out.text.find("expected text or json"), std::string::npos) << out.text;
}

TEST(Log, LinesCarryATimestampAndALevel) {
  using namespace std::chrono;
  // 2026-11-30T18:04:05.123Z
  const system_clock::time_point when{milliseconds(1796061845123)};
  EXPECT_EQ(mehdbd::FormatLogLine(mehdbd::LogFormat::kText, when,
                                  mehdbd::LogLevel::kWarning, "disk is slow"),
            "2026-11-30T18:04:05.123Z mehdbd: warning: disk is slow\n");
  const std::string json =
      mehdbd::FormatLogLine(mehdbd::LogFormat::kJson, when,
                            mehdbd::LogLevel::kError, "bad \"peer\"\n\xff");
  ASSERT_EQ(json.back(), '\n');
  EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 1);  // one line
  const auto doc = nlohmann::json::parse(json);
  EXPECT_EQ(doc["time"], "2026-11-30T18:04:05.123Z");
  EXPECT_EQ(doc["level"], "error");
  EXPECT_EQ(doc["logger"], "mehdbd");
  EXPECT_EQ(doc["msg"], "bad \"peer\"\n\xef\xbf\xbd");  // U+FFFD for the bad byte
  const std::string now = mehdbd::FormatLogLine(
      mehdbd::LogFormat::kText, system_clock::now(), mehdbd::LogLevel::kInfo, "x");
  EXPECT_TRUE(std::regex_match(
      now, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z mehdbd: info: x\n)")))
      << now;
}

}  // namespace
}  // namespace mehdb_test

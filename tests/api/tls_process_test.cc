// SPDX-License-Identifier: MIT
//
// TLS options end to end: how they parse (flag, MEHDB_* and config-file
// key) and are checked at start-up (exit 2 and one line for a missing half
// of a pair, unreadable or mismatched files, a bad CA file), the identity's
// https:// leader URL, and the built mehdbd serving TLS with a plain health
// port while the `mehdb` client talks to it with --ca-file.
#include <gtest/gtest.h>

#include <algorithm>

#include "config/config.h"
#include "harness.h"
#include "config/identity.h"
#include "test_pki.h"

namespace mehdb_test {
namespace {

using mehdbd::ConfigOutcome;

ConfigOutcome Parse(std::vector<std::string> args,
                    std::vector<std::string> env = {}) {
  std::vector<const char*> argv = {"mehdbd"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return mehdbd::ParseConfig(static_cast<int>(argv.size()), argv.data(), env);
}

class TlsOptions : public ::testing::Test {
 protected:
  TlsOptions()
      : pki_(dir_.Sub("ca")),
        a_(pki_.Issue("a", "IP:127.0.0.1,DNS:localhost")),
        b_(pki_.Issue("b", "DNS:b")) {}

  TempDir dir_;
  TestPki pki_;
  CertFiles a_, b_;
};

TEST_F(TlsOptions, FlagsEnvironmentAndFileKeys) {
  ConfigOutcome out = Parse({"--tls-cert=" + a_.cert, "--tls-key=" + a_.key,
                             "--tls-ca=" + pki_.ca_cert(),
                             "--tls-verify-hostname=false",
                             "--health-port=9878"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_TRUE(out.config.Tls());
  EXPECT_EQ(out.config.tls_cert, a_.cert);
  EXPECT_EQ(out.config.tls_ca, pki_.ca_cert());
  EXPECT_FALSE(out.config.tls_verify_hostname);
  EXPECT_EQ(out.config.health_port, 9878);

  out = Parse({}, {"MEHDB_TLS_CERT=" + a_.cert, "MEHDB_TLS_KEY=" + a_.key,
                   "MEHDB_TLS_CA=" + pki_.ca_cert(), "MEHDB_HEALTH_PORT=7"});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.tls_key, a_.key);
  EXPECT_TRUE(out.config.tls_verify_hostname);  // the default
  EXPECT_EQ(out.config.health_port, 7);

  WriteFile(dir_.Sub("mehdb.conf"), "tls-cert = " + a_.cert +
                                        "\ntls-key = " + a_.key +
                                        "\nhealth-port = 9000\n");
  out = Parse({"--config=" + dir_.Sub("mehdb.conf")});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(out.config.tls_cert, a_.cert);
  EXPECT_EQ(out.config.health_port, 9000);

  out = Parse({});
  EXPECT_FALSE(out.config.Tls());
  EXPECT_EQ(out.config.health_port, 0);
}

TEST_F(TlsOptions, DerivedLeaderUrlIsHttpsWithTls) {
  const ConfigOutcome out =
      Parse({"--host=mehdb-2", "--namespace=prod", "--tls-cert=" + a_.cert,
             "--tls-key=" + a_.key});
  ASSERT_EQ(out.action, ConfigOutcome::Action::kRun) << out.text;
  EXPECT_EQ(mehdbd::DeriveIdentity(out.config).leader_url,
            "https://mehdb-0.mehdb.prod.svc.cluster.local:9876");
}

TEST_F(TlsOptions, BadFilesStopTheDaemonWithOneLine) {
  WriteFile(dir_.Sub("junk.pem"), "-----BEGIN CERTIFICATE-----\nxx\n");
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::vector<std::string> expect;  // each must be in the line
  };
  const Case cases[] = {
      {{"--tls-cert=" + a_.cert}, {}, {"--tls-key", "go together"}},
      {{}, {{"MEHDB_TLS_KEY", a_.key}}, {"--tls-cert", "go together"}},
      {{"--tls-cert=" + dir_.Sub("missing.crt"), "--tls-key=" + a_.key},
       {},
       {"cannot read", "missing.crt"}},
      {{"--tls-cert=" + a_.cert},
       {{"MEHDB_TLS_KEY", b_.key}},
       {"does not match", "MEHDB_TLS_KEY", "b.key"}},
      {{"--tls-cert=" + dir_.Sub("junk.pem"), "--tls-key=" + a_.key},
       {},
       {"no PEM certificate", "junk.pem"}},
      {{"--tls-cert=" + a_.cert, "--tls-key=" + a_.cert},
       {},
       {"no PEM private key"}},
      {{"--tls-ca=" + dir_.Sub("junk.pem")}, {}, {"--tls-ca", "junk.pem"}},
      {{"--tls-ca=" + dir_.Sub("nothing")}, {}, {"--tls-ca", "cannot read"}},
      {{"--tls-verify-hostname=maybe"}, {}, {"--tls-verify-hostname"}},
      {{"--health-port=http"}, {}, {"--health-port"}},
      {{"--health-port=9876"}, {}, {"--health-port", "must differ"}},
  };
  for (const Case& c : cases) {
    ProcessSpec spec;
    spec.argv = {BinaryPath("MEHDBD"), "--datadir=" + dir_.Sub("data")};
    spec.argv.insert(spec.argv.end(), c.args.begin(), c.args.end());
    spec.env = c.env;
    spec.env.emplace("MEHDB_BIND", "127.0.0.1");
    spec.timeout = std::chrono::seconds(20);
    const ProcessResult r = RunProcess(spec);
    EXPECT_EQ(r.exit_code, 2) << c.expect[0] << ": " << r.err;
    for (const std::string& text : c.expect) {
      EXPECT_NE(r.err.find(text), std::string::npos) << text << " in " << r.err;
    }
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST_F(TlsOptions, HelpListsTheTlsOptions) {
  const ConfigOutcome out = Parse({"--help"});
  for (const char* name : {"--tls-cert", "--tls-key", "--tls-ca",
                           "--tls-verify-hostname", "--health-port",
                           "MEHDB_TLS_CERT", "MEHDB_HEALTH_PORT"}) {
    EXPECT_NE(out.text.find(name), std::string::npos) << name;
  }
}

TEST_F(TlsOptions, DaemonServesTlsAndTheClientVerifiesIt) {
  const int port = FreePort();
  int health = FreePort();
  while (health == port) health = FreePort();
  ProcessSpec daemon;
  daemon.argv = {BinaryPath("MEHDBD"),
                 "--port=" + std::to_string(port),
                 "--health-port=" + std::to_string(health),
                 "--peer-port=" + std::to_string(FreePort()),  // not the shared 9877
                 "--datadir=" + dir_.Sub("data"),
                 "--tls-cert=" + a_.cert,
                 "--tls-key=" + a_.key};
  // No drain delay: the SIGTERM at the end stops it at once.
  daemon.env = {{"MEHDB_BIND", "127.0.0.1"}, {"MEHDB_HOST", "solo"}, {"MEHDB_DRAIN_DELAY", "0"}};
  Child child(daemon, dir_.path());
  // Probes in plain HTTP on the health port.
  ASSERT_TRUE(WaitForHttp(health, "/healthz")) << child.Stderr();
  ASSERT_TRUE(WaitForHttp(health, "/readyz"));
  // The start-up line names the TLS listener's scheme.
  EXPECT_NE(child.Stderr().find("api https://127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << child.Stderr();

  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  auto cli = [&](std::vector<std::string> args,
                 std::map<std::string, std::string> env = {}) {
    ProcessSpec spec;
    spec.argv = {BinaryPath("MEHDB_CLI"), "--url", url};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = std::move(env);
    spec.timeout = std::chrono::seconds(30);
    return RunProcess(spec);
  };
  ProcessResult r = cli({"--ca-file", pki_.ca_cert(), "put", "k", "v1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = cli({"get", "k"}, {{"MEHDB_CA_FILE", pki_.ca_cert()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "v1");
  // Without the CA the system's store does not know ours: refused.
  r = cli({"get", "k"});
  EXPECT_EQ(r.exit_code, 8);  // a TLS failure (cli/commands.h)
  EXPECT_NE(r.err.find("verification"), std::string::npos) << r.err;
  r = cli({"--ca-file=" + dir_.Sub("nope.pem"), "get", "k"});
  EXPECT_EQ(r.exit_code, 10);  // a local file
  EXPECT_NE(r.err.find("nope.pem"), std::string::npos) << r.err;
  // Plain HTTP to the TLS port gets no answer; the daemon carries on.
  httplib::Client plain("127.0.0.1", port);
  EXPECT_FALSE(plain.Get("/healthz"));
  r = cli({"--ca-file", pki_.ca_cert(), "status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(std::chrono::seconds(20)), 0) << child.Stderr();
}

}  // namespace
}  // namespace mehdb_test

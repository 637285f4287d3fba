// SPDX-License-Identifier: MIT
//
// Peer sync over TLS with real processes: pods serve TLS on their client
// and peer ports with certificates made at test time; a follower given the
// CA (--tls-ca) replicates from the leader's https:// peer port, and one
// given another CA refuses the leader, stays not ready and says why.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <filesystem>
#include <thread>

#include "pod.h"
#include "test_pki.h"

namespace mehdb::cluster {
namespace {

using std::chrono::seconds;

// SHA-256 over every key and value, in key order (the data a client sees).
std::string Digest(const std::map<std::string, std::string>& contents) {
  std::string all;
  for (const auto& [k, v] : contents) {
    all += std::to_string(k.size()) + ":" + k + std::to_string(v.size()) + ":" + v;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(all.data(), all.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

class TlsCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mehdb-cluster-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    workdir_ = tmpl;
    ports_ = Ports::ForThisProcess();
    pki_ = std::make_unique<mehdb_test::TestPki>(workdir_ + "/ca");
    // One certificate for the set, naming every pod's address (a real set
    // would use a wildcard DNS name of the headless Service).
    std::string sans = "DNS:localhost";
    for (int i = 0; i < 3; ++i)
      sans += ",IP:127.0.0." + std::to_string(ports_.base_octet + i);
    pair_ = pki_->Issue("mehdb", sans);
  }
  void TearDown() override {
    pods_.clear();
    if (!HasFailure()) std::filesystem::remove_all(workdir_);
    else std::fprintf(stderr, "pod logs kept in %s\n", workdir_.c_str());
  }

  Pod& AddPod(std::vector<std::string> args) {
    args.push_back("--tls-cert=" + pair_.cert);
    args.push_back("--tls-key=" + pair_.key);
    pods_.push_back(std::make_unique<Pod>(workdir_, static_cast<int>(pods_.size()), ports_,
                                          std::move(args)));
    pods_.back()->UseTls(pki_->ca_cert());
    return *pods_.back();
  }

  std::string workdir_;
  Ports ports_{};
  std::unique_ptr<mehdb_test::TestPki> pki_;
  mehdb_test::CertFiles pair_;
  std::vector<std::unique_ptr<Pod>> pods_;
};

TEST_F(TlsCluster, FollowerReplicatesFromATlsLeader) {
  Pod& leader = AddPod({});
  leader.Start();
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(leader.Put("k" + std::to_string(i), std::string(100 + i, char('a' + i % 26))),
              200);
  }
  Pod& follower = AddPod({"--tls-ca=" + pki_->ca_cert()});
  follower.Start();  // new: bootstraps from a snapshot over TLS
  for (int i = 40; i < 60; ++i) ASSERT_EQ(leader.Put("k" + std::to_string(i), "streamed"), 200);
  ASSERT_EQ(leader.Delete("k3"), 204);

  const std::string want = Digest(leader.Contents());
  std::string got;
  EXPECT_TRUE(WaitUntil([&] {
    got = Digest(follower.Contents());
    return got == want;
  })) << follower.ReplicationJson();
  EXPECT_EQ(got, want);
  EXPECT_TRUE(WaitUntil([&] { return follower.Status("/readyz") == 200; }))
      << follower.ReplicationJson();
  // The peer URL was derived from the https:// leader URL.
  EXPECT_NE(follower.ReplicationJson().find("https://127.0.0."), std::string::npos)
      << follower.ReplicationJson();

  // A write sent to the follower is redirected to the leader's https:// URL.
  auto res = follower.Client()->Put("/set/x", "y", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 307);
  EXPECT_EQ(res->get_header_value("Location").rfind("https://", 0), 0u)
      << res->get_header_value("Location");
}

TEST_F(TlsCluster, FollowerWithAnotherCaRefusesTheLeader) {
  Pod& leader = AddPod({});
  leader.Start();
  ASSERT_EQ(leader.Put("secret", "only for the trusted"), 200);
  mehdb_test::TestPki other(workdir_ + "/other-ca");
  Pod& follower = AddPod({"--tls-ca=" + other.ca_cert()});
  follower.Start();

  std::string json;
  EXPECT_TRUE(WaitUntil([&] {
    json = follower.ReplicationJson();
    return json.find("verification failed") != std::string::npos;
  })) << json;
  EXPECT_NE(json.find("unable to get local issuer certificate"), std::string::npos) << json;
  EXPECT_NE(follower.Status("/readyz"), 200);
  EXPECT_FALSE(follower.Get("secret"));
  // Still refusing a while later, and still alive.
  std::this_thread::sleep_for(seconds(1));
  EXPECT_NE(follower.Status("/readyz"), 200);
  EXPECT_EQ(follower.Status("/healthz"), 200);
}

}  // namespace
}  // namespace mehdb::cluster

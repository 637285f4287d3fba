// SPDX-License-Identifier: MIT
//
// TLS on the client listener, in-process: a real store, a real server on
// an ephemeral loopback port, certificates made by the openssl command at
// test time (tests/certs), and clients that verify them (cpp-httplib's
// SSLClient, or a raw OpenSSL connection for pipelining and byte-level
// cases).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "harness.h"
#include "base/log.h"
#include "test_pki.h"
#include "tls/client.h"
#include "tls/server_context.h"

namespace mehdb_test {
namespace {

using std::chrono::milliseconds;

// A server over TLS with the given certificate files, optionally with the
// plain health listener.
class TlsServer {
 public:
  TlsServer(const CertFiles& files, bool health = false,
            milliseconds read_timeout = milliseconds(5000),
            unsigned threads = 64) {
    mehdbd::SetLogQuiet(true);
    std::string error;
    tls_ = mehdbd::tls::TlsServerContext::Create(files.cert, files.key, error);
    if (!tls_) {
      ADD_FAILURE() << error;
      return;
    }
    auto stores = mehdbd::StoreHandle::Open(dir_.Sub("data"),
                                            TestServer::QuickStore());
    if (!stores.ok()) {
      ADD_FAILURE() << stores.status().ToString();
      return;
    }
    stores_ = std::move(*stores);
    mehdbd::http::ServerOptions options;
    options.tls = tls_;
    options.read_timeout = read_timeout;
    options.threads = threads;
    server_ = std::make_unique<mehdbd::http::Server>(*stores_,
                                                     LeaderIdentity(), options);
    port_ = server_->Bind("127.0.0.1", 0, error);
    if (port_ < 0) ADD_FAILURE() << error;
    if (health) {
      health_port_ = server_->BindHealth("127.0.0.1", 0, error);
      if (health_port_ < 0) ADD_FAILURE() << error;
    }
    thread_ = std::thread([this] { server_->Run(); });
    for (int i = 0; i < 5000 && !server_->IsRunning(); ++i) {
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  ~TlsServer() {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  int health_port() const { return health_port_; }
  mehdbd::tls::TlsServerContext& tls() { return *tls_; }

  // A verifying client trusting `ca_file`.
  std::unique_ptr<httplib::Client> Client(const std::string& ca_file) const {
    auto cli = std::make_unique<httplib::Client>(
        "https://127.0.0.1:" + std::to_string(port_));
    cli->set_ca_cert_path(ca_file);
    cli->enable_server_certificate_verification(true);
    cli->set_connection_timeout(5, 0);
    cli->set_read_timeout(10, 0);
    return cli;
  }

 private:
  TempDir dir_;
  std::shared_ptr<mehdbd::tls::TlsServerContext> tls_;
  std::unique_ptr<mehdbd::StoreHandle> stores_;
  std::unique_ptr<mehdbd::http::Server> server_;
  std::thread thread_;
  int port_ = -1;
  int health_port_ = -1;
};

// A blocking OpenSSL client connection that verifies the server against
// `ca_file` and the name 127.0.0.1.
class RawTls {
 public:
  RawTls(int port, const std::string& ca_file)
      : ctx_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free),
        ssl_(nullptr, SSL_free) {
    SSL_CTX_load_verify_locations(ctx_.get(), ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    fd_ = ConnectLoopback(port);
    ssl_.reset(SSL_new(ctx_.get()));
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), "127.0.0.1");
    SSL_set_fd(ssl_.get(), fd_);
    connected_ = fd_ >= 0 && SSL_connect(ssl_.get()) == 1;
    ERR_clear_error();
  }
  ~RawTls() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return SSL_write(ssl_.get(), bytes.data(), int(bytes.size())) ==
           int(bytes.size());
  }
  // Reads until the server closes (or an error); answers what was read.
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    while (true) {
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, std::size_t(n));
    }
    ERR_clear_error();
    return out;
  }

 private:
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
  int fd_ = -1;
  bool connected_ = false;
};

std::size_t Count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1))
    ++n;
  return n;
}

bool WaitUntilTrue(const std::function<bool()>& cond,
                   milliseconds limit = milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return cond();
}

// Replaces a file the way a Secret update does: write aside, rename over.
void Replace(const std::string& path, const std::string& from) {
  const std::string tmp = path + ".new";
  std::filesystem::copy_file(from, tmp,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(tmp, path);
}

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : pki_(dir_.Sub("ca1")),
        good_(pki_.Issue("server", "IP:127.0.0.1,DNS:localhost")) {}

  TempDir dir_;
  TestPki pki_;
  CertFiles good_;
};

TEST_F(TlsTest, PutAndGetOverTls) {
  TlsServer server(good_);
  auto cli = server.Client(pki_.ca_cert());
  auto put = cli->Put("/set/greeting", "hello over tls", "text/plain");
  ASSERT_TRUE(put) << httplib::to_string(put.error());
  EXPECT_EQ(put->status, 200);
  // A value larger than one TLS record and than the stream's buffer.
  std::string big(3 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4099) big[i] = char('a' + i % 26);
  auto put_big = cli->Put("/set/big", big, "application/octet-stream");
  ASSERT_TRUE(put_big);
  EXPECT_EQ(put_big->status, 200);
  // Same connection (keep-alive), then a new one.
  auto get = cli->Get("/get/greeting");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "hello over tls");
  auto get_big = server.Client(pki_.ca_cert())->Get("/get/big");
  ASSERT_TRUE(get_big);
  EXPECT_EQ(get_big->body, big);
}

// Half handshakes and idle TLS sessions hold no worker: with a pool of two
// threads, a normal TLS client is served while 80 connections sit in the
// middle of their ClientHello and 64 established sessions sit idle between
// requests, all of them still open afterwards.
TEST_F(TlsTest, HalfHandshakesAndIdleSessionsHoldNoWorker) {
  TlsServer server(good_, false, milliseconds(60000), /*threads=*/2);
  std::vector<int> half;
  for (int i = 0; i < 80; ++i) {
    const int fd = ConnectLoopback(server.port());
    ASSERT_GE(fd, 0);
    // A record header promising 512 bytes of handshake, and 11 of them.
    ASSERT_TRUE(SendAll(fd, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) +
                                std::string(11, 'r')));
    half.push_back(fd);
  }
  std::vector<std::unique_ptr<httplib::Client>> idle;
  for (int i = 0; i < 64; ++i) {
    idle.push_back(server.Client(pki_.ca_cert()));
    idle.back()->set_keep_alive(true);
    auto got = idle.back()->Get("/status");
    ASSERT_TRUE(got);
    ASSERT_EQ(got->status, 200);
  }
  auto cli = server.Client(pki_.ca_cert());
  for (int i = 0; i < 10; ++i) {
    auto put = cli->Put("/set/k", "v", "text/plain");
    ASSERT_TRUE(put) << httplib::to_string(put.error());
    EXPECT_EQ(put->status, 200);
  }
  for (int fd : half) {
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    EXPECT_TRUE(n < 0 && errno == EAGAIN) << "a half handshake was answered or closed";
    ::close(fd);
  }
  // The idle sessions are still usable.
  auto again = idle.front()->Get("/get/k");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "v");
}

TEST_F(TlsTest, PipelinedRequestsInOneRecordAreAllAnswered) {
  TlsServer server(good_);
  ASSERT_EQ(server.Client(pki_.ca_cert())->Put("/set/k", "v", "text/plain")->status,
            200);
  RawTls raw(server.port(), pki_.ca_cert());
  ASSERT_TRUE(raw.connected());
  // Three requests in one write: the second and third sit decrypted inside
  // OpenSSL or in the stream's buffer while the first is answered.
  ASSERT_TRUE(raw.Send(
      "GET /get/k HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /get/missing HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /get/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string answers = raw.ReadAll();
  EXPECT_EQ(Count(answers, "HTTP/1.1 200 OK"), 2u) << answers;
  EXPECT_EQ(Count(answers, "HTTP/1.1 404"), 1u) << answers;
}

TEST_F(TlsTest, ExpiredCertificateFailsVerificationAndServingGoesOn) {
  const CertFiles expired = pki_.IssueExpired("old", "IP:127.0.0.1");
  TlsServer server(expired);
  auto cli = server.Client(pki_.ca_cert());
  auto res = cli->Get("/healthz");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::SSLServerVerification);
  EXPECT_EQ(cli->get_openssl_verify_result(), X509_V_ERR_CERT_HAS_EXPIRED);
  // The refused handshake cost the daemon nothing: a client that does not
  // check dates (or validity at all) is still served.
  httplib::Client lax("https://127.0.0.1:" + std::to_string(server.port()));
  lax.enable_server_certificate_verification(false);
  auto ok = lax.Get("/healthz");
  ASSERT_TRUE(ok) << httplib::to_string(ok.error());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(TlsTest, CertificateFromAnotherCaFailsVerification) {
  TestPki other(dir_.Sub("ca2"));
  const CertFiles stranger = other.Issue("stranger", "IP:127.0.0.1");
  TlsServer server(stranger);
  auto cli = server.Client(pki_.ca_cert());
  auto res = cli->Get("/healthz");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::SSLServerVerification);
  EXPECT_NE(cli->get_openssl_verify_result(), X509_V_OK);
  // Trusting the right CA, the same server is fine.
  auto right = server.Client(other.ca_cert())->Get("/healthz");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
}

TEST_F(TlsTest, CertificateForAnotherNameFailsVerification) {
  const CertFiles elsewhere = pki_.Issue("elsewhere", "DNS:elsewhere.example");
  TlsServer server(elsewhere);
  auto res = server.Client(pki_.ca_cert())->Get("/healthz");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::SSLServerVerification);
}

// The follower's client set-up (tls/client.h): the host name check can be
// turned off, the chain check cannot.
TEST_F(TlsTest, ClientWithoutHostNameCheckStillChecksTheChain) {
  const CertFiles elsewhere = pki_.Issue("elsewhere", "DNS:elsewhere.example");
  TlsServer server(elsewhere);
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port());
  httplib::Client strict(url);
  mehdbd::tls::ConfigureClient(strict, {pki_.ca_cert(), true});
  auto res = strict.Get("/healthz");
  ASSERT_FALSE(res);
  EXPECT_NE(mehdbd::tls::DescribeError(strict, res.error()).find("verification"),
            std::string::npos);

  httplib::Client lenient(url);
  mehdbd::tls::ConfigureClient(lenient, {pki_.ca_cert(), false});
  res = lenient.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);

  TestPki other(dir_.Sub("ca2"));
  httplib::Client untrusting(url);
  mehdbd::tls::ConfigureClient(untrusting, {other.ca_cert(), false});
  EXPECT_FALSE(untrusting.Get("/healthz"));
}

TEST_F(TlsTest, PlainHttpToTheTlsPortIsClosedWithoutAnAnswer) {
  // A handshake limit of a minute: only the failed handshake can close it
  // within the 10 s the test waits.
  TlsServer server(good_, false, milliseconds(60000));
  const int fd = ConnectLoopback(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /get/k HTTP/1.1\r\nHost: x\r\n\r\n"));
  const ReadToClose got = ReadUntilClosed(fd, milliseconds(10000));
  ::close(fd);
  // No HTTP answer (the bytes are not a TLS ClientHello), and closed.
  EXPECT_TRUE(got.closed) << "the server kept a connection whose handshake failed";
  EXPECT_EQ(got.bytes.find("HTTP/1.1"), std::string::npos) << got.bytes;
  auto res = server.Client(pki_.ca_cert())->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(TlsTest, SilentClientIsDroppedAfterTheHandshakeTimeout) {
  TlsServer server(good_, false, milliseconds(300));
  const int fd = ConnectLoopback(server.port());
  ASSERT_GE(fd, 0);
  // Never send a ClientHello: the handshake's time limit (the read
  // timeout, 300 ms here) closes the connection without a byte sent.
  const ReadToClose got = ReadUntilClosed(fd, std::chrono::seconds(30));
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.bytes, "");
  ::close(fd);
}

TEST_F(TlsTest, StalledHandshakeIsDroppedAfterTheReadTimeout) {
  TlsServer server(good_, false, milliseconds(300));
  const int fd = ConnectLoopback(server.port());
  ASSERT_GE(fd, 0);
  // The first byte of a TLS record and no more: the handshake has begun,
  // and its time limit closes the connection.
  ASSERT_TRUE(SendAll(fd, std::string(1, '\x16')));
  const ReadToClose got = ReadUntilClosed(fd, std::chrono::seconds(30));
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.bytes, "");
  ::close(fd);
}

// A TLS connection's handshake runs on an event loop and holds no worker:
// with one worker thread, connections that never send a ClientHello do not
// delay a client that does. (If each held the worker for its
// handshake time limit, the requests below would wait 20 x 5 s.)
TEST_F(TlsTest, SilentConnectionsHoldNoWorker) {
  TlsServer server(good_, false, milliseconds(5000), /*threads=*/1);
  std::vector<int> silent;
  for (int i = 0; i < 20; ++i) {
    silent.push_back(ConnectLoopback(server.port()));
    ASSERT_GE(silent.back(), 0);
  }
  auto cli = server.Client(pki_.ca_cert());
  for (int i = 0; i < 5; ++i) {
    auto res = cli->Get("/status");
    ASSERT_TRUE(res) << "request " << i << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->body, "leader");
  }
  for (int fd : silent) ::close(fd);
}

TEST_F(TlsTest, ChangedCertificateFilesServeNewConnections) {
  // The server reads copies, so the test can replace them.
  const CertFiles live{dir_.Sub("live.crt"), dir_.Sub("live.key")};
  std::filesystem::copy_file(good_.cert, live.cert);
  std::filesystem::copy_file(good_.key, live.key);
  TlsServer server(live);
  ASSERT_TRUE(server.Client(pki_.ca_cert())->Get("/healthz"));

  TestPki next(dir_.Sub("ca-next"));
  const CertFiles renewed = next.Issue("renewed", "IP:127.0.0.1");
  Replace(live.key, renewed.key);
  Replace(live.cert, renewed.cert);
  // Files are looked at most once a second: poll with new connections.
  EXPECT_TRUE(WaitUntilTrue([&] {
    return bool(server.Client(next.ca_cert())->Get("/healthz"));
  }));
  EXPECT_EQ(server.tls().reloads(), 1u);
  EXPECT_FALSE(server.Client(pki_.ca_cert())->Get("/healthz"));

  // A broken replacement keeps the working certificate.
  WriteFile(live.cert + ".new", "-----BEGIN CERTIFICATE-----\ngarbage\n");
  std::filesystem::rename(live.cert + ".new", live.cert);
  std::this_thread::sleep_for(milliseconds(1200));
  for (int i = 0; i < 3; ++i) {
    auto res = server.Client(next.ca_cert())->Get("/healthz");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_EQ(server.tls().reloads(), 1u);
}

TEST_F(TlsTest, HealthPortAnswersProbesInPlainHttp) {
  TlsServer server(good_, /*health=*/true);
  ASSERT_GT(server.health_port(), 0);
  httplib::Client plain("127.0.0.1", server.health_port());
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    auto res = plain.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
  // The data API is not reachable there, not even for reads.
  ASSERT_EQ(server.Client(pki_.ca_cert())->Put("/set/k", "v", "text/plain")->status,
            200);
  for (const char* path : {"/get/k", "/keys", "/status", "/backup"}) {
    auto res = plain.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
  auto put = plain.Put("/set/k", "other", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 404);
  // And the main port still speaks only TLS.
  httplib::Client wrong("127.0.0.1", server.port());
  EXPECT_FALSE(wrong.Get("/healthz"));
  EXPECT_EQ(server.Client(pki_.ca_cert())->Get("/get/k")->body, "v");
}

TEST(TlsFiles, BadPairsAreRejectedWithTheReason) {
  TempDir dir;
  TestPki pki(dir.Sub("ca"));
  const CertFiles a = pki.Issue("a", "DNS:a");
  const CertFiles b = pki.Issue("b", "DNS:b");
  std::string error;
  EXPECT_TRUE(mehdbd::tls::LoadServerContext(a.cert, a.key, error)) << error;
  EXPECT_FALSE(mehdbd::tls::LoadServerContext(a.cert, b.key, error));
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;
  EXPECT_FALSE(mehdbd::tls::LoadServerContext(dir.Sub("none"), a.key, error));
  EXPECT_NE(error.find("cannot read"), std::string::npos) << error;
  WriteFile(dir.Sub("junk.pem"), "not a certificate\n");
  EXPECT_FALSE(mehdbd::tls::LoadServerContext(dir.Sub("junk.pem"), a.key, error));
  EXPECT_NE(error.find("no PEM certificate"), std::string::npos) << error;
  EXPECT_FALSE(mehdbd::tls::CheckCaFile(pki.ca_cert()));
  EXPECT_TRUE(mehdbd::tls::CheckCaFile(dir.Sub("junk.pem")));
}

}  // namespace
}  // namespace mehdb_test

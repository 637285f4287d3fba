// SPDX-License-Identifier: MIT
//
// Implementation of harness.h: directories, the in-process server and raw
// sockets. Child processes are in process.cc.
#include "harness.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/log.h"

namespace mehdb_test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/mehdb-api-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

mehdbd::Identity LeaderIdentity() {
  mehdbd::Identity id;
  id.role = mehdbd::Role::kLeader;
  id.host = "mehdb-0";
  id.set = "mehdb";
  id.ordinal = 0;
  return id;
}

mehdbd::Identity FollowerIdentity(const std::string& leader_url) {
  mehdbd::Identity id;
  id.role = mehdbd::Role::kFollower;
  id.host = "mehdb-1";
  id.set = "mehdb";
  id.ordinal = 1;
  id.leader_url = leader_url;
  return id;
}

mehdb::Options TestServer::QuickStore() {
  mehdb::Options o;
  o.map_bytes = std::uint64_t{8} << 20;
  o.max_map_bytes = std::uint64_t{1} << 30;
  return o;
}

TestServer::TestServer(mehdbd::Identity identity,
                       mehdbd::http::ServerOptions options,
                       mehdb::Options store_options, std::string datadir,
                       mehdbd::auth::Authenticator* auth) {
  mehdbd::SetLogQuiet(true);
  if (datadir.empty()) {
    dir_ = std::make_unique<TempDir>();
    datadir = dir_->Sub("data");
  }
  auto stores = mehdbd::StoreHandle::Open(datadir, store_options);
  if (!stores.ok()) {
    ADD_FAILURE() << "opening the store: " << stores.status().ToString();
    return;
  }
  stores_ = std::move(*stores);
  server_ = std::make_unique<mehdbd::http::Server>(*stores_, std::move(identity),
                                                   options);
  server_->api().SetAuth(auth);
  std::string error;
  port_ = server_->Bind("127.0.0.1", 0, error);
  if (port_ < 0) {
    ADD_FAILURE() << error;
    return;
  }
  thread_ = std::thread([this] { server_->Run(); });
  // cpp-httplib 0.11 has no wait_until_ready(): poll is_running().
  for (int i = 0; i < 5000 && !server_->IsRunning(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(server_->IsRunning());
}

TestServer::~TestServer() {
  Stop();
  server_.reset();
  stores_.reset();
}

void TestServer::Stop() {
  if (server_) server_->Stop();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<httplib::Client> TestServer::Client() const {
  auto cli = std::make_unique<httplib::Client>("127.0.0.1", port_);
  cli->set_url_encode(false);
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(30, 0);
  return cli;
}

int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

namespace {

// Reads what is available within `wait`; false once the peer has closed.
bool ReadSome(int fd, std::string& out, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return true;
  char buf[65536];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return false;
  out.append(buf, static_cast<std::size_t>(n));
  return true;
}

}  // namespace

std::string ReadUntil(int fd, const std::string& needle,
                      std::chrono::milliseconds limit) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (out.find(needle) == std::string::npos &&
         std::chrono::steady_clock::now() < end) {
    if (!ReadSome(fd, out, std::chrono::milliseconds(50))) break;
  }
  return out;
}

ReadToClose ReadUntilClosed(int fd, std::chrono::milliseconds limit) {
  ReadToClose got;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (!ReadSome(fd, got.bytes, std::chrono::milliseconds(50))) {
      got.closed = true;
      break;
    }
  }
  return got;
}

std::string RawExchange(int port, const std::string& request,
                        std::chrono::milliseconds quiet) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "<connect failed>";
  SendAll(fd, request);
  std::string out;
  auto last = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - last < quiet) {
    const std::size_t before = out.size();
    if (!ReadSome(fd, out, std::chrono::milliseconds(50))) {
      out += "<closed>";
      break;
    }
    if (out.size() != before) last = std::chrono::steady_clock::now();
  }
  ::close(fd);
  return out;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool StillWaiting(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool WaitForHttp(int port, const std::string& path,
                 std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(1, 0);
    if (auto res = cli.Get(path.c_str()); res && res->status == 200)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string BinaryPath(const char* env_name) {
  const char* p = std::getenv(env_name);
  if (p == nullptr || *p == '\0') {
    ADD_FAILURE() << env_name
                  << " is not set (meson passes the built binary's path)";
    return "/nonexistent";
  }
  return p;
}

}  // namespace mehdb_test

// SPDX-License-Identifier: MIT
#include "pod.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

namespace mehdb::cluster {

Ports Ports::ForThisProcess() {
  const int slot = static_cast<int>(getpid() % 500);
  // Pods share ports across their addresses; processes differ by port.
  return Ports{30000 + slot * 4, 30000 + slot * 4 + 1, 20 + (slot % 10) * 20};
}

Pod::Pod(std::string workdir, int ordinal, Ports ports, std::vector<std::string> extra_args)
    : workdir_(std::move(workdir)),
      ordinal_(ordinal),
      ports_(ports),
      extra_args_(std::move(extra_args)) {
  name_ = "mehdb-" + std::to_string(ordinal);
  address_ = "127.0.0." + std::to_string(ports.base_octet + ordinal);
  datadir_ = workdir_ + "/pvc-" + name_;
  logfile_ = workdir_ + "/" + name_ + ".log";
}

Pod::~Pod() {
  if (running()) Kill();
}

std::string Pod::url() const {
  return (ca_file_.empty() ? "http://" : "https://") + address_ + ":" +
         std::to_string(ports_.client);
}

void Pod::Start() {
  if (running()) throw std::logic_error(name_ + " is already running");
  const char* bin = std::getenv("MEHDBD");
  if (bin == nullptr) throw std::runtime_error("MEHDBD is not set");
  const std::string leader = (ca_file_.empty() ? "http://127.0.0." : "https://127.0.0.") +
                             std::to_string(ports_.base_octet) + ":" +
                             std::to_string(ports_.client);
  std::vector<std::string> args = {bin,
                                   "--bind=" + address_,
                                   "--port=" + std::to_string(ports_.client),
                                   "--peer-port=" + std::to_string(ports_.peer),
                                   "--datadir=" + datadir_,
                                   "--leader-url=" + leader};
  const auto given = [&](const char* option) {
    return std::any_of(extra_args_.begin(), extra_args_.end(),
                       [&](const std::string& a) { return a.rfind(option, 0) == 0; });
  };
  // Quick by default; a test may pass its own values: short polls, no
  // drain delay on SIGTERM, and a leader on an empty store starts fresh at
  // once (instead of waiting --recovery-wait for followers with data).
  if (!given("--poll-wait")) args.push_back("--poll-wait=2s");
  if (!given("--drain-delay")) args.push_back("--drain-delay=0");
  if (!given("--leader-recovery") && !given("--recovery-wait"))
    args.push_back("--leader-recovery=fresh");
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    int fd = ::open(logfile_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    setenv("MEHDB_HOST", name_.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  if (!WaitUntil([&] { return Status("/healthz") == 200; }, std::chrono::seconds(20)))
    throw std::runtime_error(name_ + " did not come up; see " + logfile_);
}

void Pod::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int Pod::Terminate() {
  Signal(SIGTERM);
  return Wait();
}

void Pod::Signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

int Pod::Wait() {
  if (!running()) return -1;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string Pod::LogText() const {
  std::ifstream in(logfile_);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Pod::WipeData() {
  if (running()) throw std::logic_error("wipe " + name_ + " only while it is stopped");
  std::filesystem::remove_all(datadir_);
}

std::unique_ptr<httplib::Client> Pod::Client(int timeout_s) const {
  auto c = std::make_unique<httplib::Client>(url());
  if (!ca_file_.empty()) {
    c->set_ca_cert_path(ca_file_);
    c->enable_server_certificate_verification(true);
  }
  c->set_connection_timeout(2, 0);
  c->set_tcp_nodelay(true);  // else each PUT's body waits ~40 ms (Nagle + delayed ACK)
  c->set_read_timeout(timeout_s, 0);
  if (!token_.empty()) c->set_bearer_token_auth(token_.c_str());
  return c;
}

std::optional<int> Pod::Put(const std::string& key, const std::string& value,
                            std::string* seq_out) const {
  auto res = Client()->Put("/set/" + key, value, "application/octet-stream");
  if (!res) return std::nullopt;
  if (seq_out != nullptr) *seq_out = res->get_header_value("X-Mehdb-Seq");
  return res->status;
}

std::optional<int> Pod::Delete(const std::string& key) const {
  auto res = Client()->Delete("/set/" + key);
  if (!res) return std::nullopt;
  return res->status;
}

std::optional<std::string> Pod::Get(const std::string& key) const {
  auto res = Client()->Get("/get/" + key);
  if (!res || res->status != 200) return std::nullopt;
  return res->body;
}

int Pod::Status(const std::string& path) const {
  auto res = Client(2)->Get(path);
  return res ? res->status : 0;
}

std::string Pod::ReplicationJson() const {
  auto res = Client(2)->Get("/replication");
  return res && res->status == 200 ? res->body : "";
}

std::map<std::string, std::string> Pod::Contents() const {
  std::map<std::string, std::string> out;
  auto client = Client(10);
  auto keys = client->Get("/keys");
  if (!keys || keys->status != 200) throw std::runtime_error(name_ + ": /keys failed");
  for (const auto& key : nlohmann::json::parse(keys->body)) {
    auto v = client->Get("/get/" + key.get<std::string>());
    if (v && v->status == 200) out[key.get<std::string>()] = v->body;
  }
  return out;
}

bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

long long JsonNumber(const std::string& json, const std::string& field) {
  try {
    auto doc = nlohmann::json::parse(json);
    // Fields may sit at the top level or one level down (leader/follower).
    if (doc.contains(field) && doc[field].is_number()) return doc[field].get<long long>();
    for (auto& [k, v] : doc.items())
      if (v.is_object() && v.contains(field) && v[field].is_number()) return v[field].get<long long>();
  } catch (const std::exception&) {
  }
  return -1;
}

}  // namespace mehdb::cluster

// SPDX-License-Identifier: MIT
#include "stress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pod.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace mehdb::stress {

WorkDir::WorkDir() {
  char tmpl[] = "/tmp/mehdb-stress-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  path_ = tmpl;
}

WorkDir::~WorkDir() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (test != nullptr && test->result()->Failed()) {
    std::fprintf(stderr, "work directory (daemon logs) kept in %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

long StatusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string word;
  while (in >> word) {
    if (word == field) {
      long kib = -1;
      in >> kib;
      return kib;
    }
  }
  return -1;
}

}  // namespace

long RssKiB(pid_t pid) { return StatusField(pid, "VmRSS:"); }

void ReportRss(const std::string& label, pid_t pid) {
  // The file part is mostly the store's memory map (LMDB pages read or
  // written), the anonymous part the daemon's own heap and stacks.
  std::printf("%s: mehdbd RSS %ld KiB (anon %ld, file %ld)\n", label.c_str(), RssKiB(pid),
              StatusField(pid, "RssAnon:"), StatusField(pid, "RssFile:") + StatusField(pid, "RssShmem:"));
  std::fflush(stdout);
}

int ConnectTcp(const std::string& address, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::size_t RaiseFileLimit(std::size_t want) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < want) {
    limit.rlim_cur = std::min<rlim_t>(want, limit.rlim_max);
    (void)setrlimit(RLIMIT_NOFILE, &limit);
    (void)getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

void KeyLedger::Acked(const std::string& key, State state) {
  keys_[key] = {std::move(state)};
}

void KeyLedger::Unanswered(const std::string& key, State attempted) {
  auto& states = keys_[key];
  // A key never acknowledged may also still be absent.
  if (states.empty()) states.insert(std::nullopt);
  states.insert(std::move(attempted));
  ++unanswered_;
}

bool KeyLedger::Settle(const std::string& key, const State& seen) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return !seen.has_value();
  if (it->second.count(seen) == 0) return false;
  it->second = {seen};
  return true;
}

std::string MakeValue(const std::string& key, std::size_t serial, std::size_t size) {
  std::string v = key + "#" + std::to_string(serial) + "#";
  if (v.size() < size) v.append(size - v.size(), static_cast<char>('a' + serial % 26));
  return v;
}

Writers::Writers(const cluster::Pod& pod, Options options)
    : pod_(pod), options_(std::move(options)), ledgers_(options_.writers) {
  for (int i = 0; i < options_.writers; ++i) threads_.emplace_back([this, i] { Run(i); });
}

Writers::~Writers() {
  stop_.store(true);
  for (auto& t : threads_) t.join();
}

void Writers::Pause() {
  paused_.store(true);
  while (busy_.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Writers::Resume() { paused_.store(false); }

std::map<int, long> Writers::statuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return statuses_;
}

std::string Writers::BodyFor(int status) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string joined;
  auto it = bodies_.find(status);
  if (it == bodies_.end()) return joined;
  for (const std::string& body : it->second) joined += (joined.empty() ? "" : " | ") + body;
  return joined;
}

void Writers::Run(int id) {
  std::size_t serial = 0;
  std::size_t n = 0;
  while (!stop_.load()) {
    ++busy_;
    if (paused_.load()) {
      --busy_;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    const std::string key = options_.prefix + std::to_string(id) + "-" +
                            std::to_string(n++ % static_cast<std::size_t>(options_.keys_per_writer));
    ++serial;
    const std::string value = MakeValue(key, serial, options_.value_bytes(serial));
    auto res = pod_.Client(10)->Put("/set/" + key, value, "application/octet-stream");
    const int status = res ? res->status : 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++statuses_[status];
      if (res && bodies_[status].size() < 4) bodies_[status].insert(res->body);
    }
    if (status == 200) {
      ledgers_[static_cast<std::size_t>(id)].Acked(key, value);
      ++acked_;
    } else {
      // Not acknowledged: it may or may not have committed.
      ledgers_[static_cast<std::size_t>(id)].Unanswered(key, value);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    --busy_;
  }
}

long ExpectLedgersHold(const cluster::Pod& pod, std::vector<KeyLedger>& ledgers,
                       const std::string& when) {
  auto client = pod.Client(10);
  client->set_keep_alive(true);
  long checked = 0;
  for (auto& ledger : ledgers) {
    for (const auto& entry : ledger.keys()) {
      const std::string& key = entry.first;
      auto res = client->Get("/get/" + key);
      if (!res || (res->status != 200 && res->status != 404)) {
        ADD_FAILURE() << when << ": GET " << key << " -> " << (res ? res->status : 0);
        return checked;
      }
      const KeyLedger::State got = res->status == 200 ? KeyLedger::State(res->body) : std::nullopt;
      if (!ledger.Settle(key, got)) {
        ADD_FAILURE() << when << ": " << key << " holds "
                      << (got ? got->substr(0, 40) : std::string("nothing"))
                      << ", not its last acknowledged state";
        return checked;
      }
      ++checked;
    }
  }
  std::printf("%s: %ld keys hold their last acknowledged state\n", when.c_str(), checked);
  std::fflush(stdout);
  return checked;
}

}  // namespace mehdb::stress

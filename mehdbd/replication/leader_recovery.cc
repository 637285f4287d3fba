// SPDX-License-Identifier: MIT
#include "replication/leader_recovery.h"

#include <pthread.h>

#include <httplib.h>


#include "base/log.h"
#include "replication/snapshot_fetch.h"

namespace mehdbd::replication {
namespace {

using Clock = std::chrono::steady_clock;

bool UsablePeerUrl(const std::string& url) {
  return url.size() < 512 && (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0);
}

std::string Seconds(std::chrono::milliseconds d) {
  return std::to_string(d.count() / 1000) + "." + std::to_string(d.count() % 1000 / 100) + " s";
}

}  // namespace

LeaderRecovery::LeaderRecovery(StoreHandle& stores, LeaderRecoveryOptions options)
    : stores_(stores), options_(std::move(options)) {
  auto store = stores_.Current();
  auto count = store->Count();
  const bool empty = store->LastSeq() == 0 && count.ok() && *count == 0;
  active_.store(empty && options_.mode != Config::LeaderRecovery::kFresh);
}

LeaderRecovery::~LeaderRecovery() { Stop(); }

void LeaderRecovery::Offer(const std::string& follower, const std::string& history,
                           std::uint64_t seq, const std::string& peer_url) {
  if (!Active() || follower.empty() || seq == 0 || !UsablePeerUrl(peer_url)) return;
  const auto id = mehdb::HistoryId::FromHex(history);
  if (!id || id->IsZero()) return;
  {
    std::lock_guard lock(mu_);
    auto [it, added] = candidates_.insert_or_assign(follower, Candidate{*id, seq, peer_url});
    if (added)
      LogInfo("recovery: " + follower + " (" + peer_url + ") holds history " + history +
              " up to seq " + std::to_string(seq));
  }
  changed_.notify_all();
}

void LeaderRecovery::Start() {
  if (!Active()) return;
  const std::string how =
      options_.mode == Config::LeaderRecovery::kFollowers
          ? "for as long as it takes (--leader-recovery=followers)"
          : "up to " + Seconds(options_.wait) + " (--recovery-wait)";
  LogWarning("this leader's store is empty: waiting " + how +
             " for followers that hold data, to load the most advanced one's; writes get 503 "
             "meanwhile (--leader-recovery=fresh starts a new history at once)");
  thread_ = std::thread([this] { Run(); });
  ::pthread_setname_np(thread_.native_handle(), "mehdbd-recover");
}

void LeaderRecovery::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaderRecovery::Run() {
  const auto deadline = Clock::now() + options_.wait;
  const bool bounded = options_.mode == Config::LeaderRecovery::kAuto;
  // First offer + settle; kNever until an offer came. (Not a std::optional:
  // GCC at -O1 under TSan warns it may be read uninitialized.)
  constexpr Clock::time_point kNever = Clock::time_point::max();
  Clock::time_point decide_at = kNever;
  std::unique_lock lock(mu_);
  while (!stop_.load()) {
    if (!candidates_.empty() && decide_at == kNever) decide_at = Clock::now() + options_.settle;
    if (decide_at != kNever && Clock::now() >= decide_at) {
      auto best = candidates_.begin();
      for (auto it = candidates_.begin(); it != candidates_.end(); ++it)
        if (it->second.seq > best->second.seq) best = it;
      const std::string follower = best->first;
      const Candidate chosen = best->second;
      candidates_.erase(best);  // a failed transfer moves on to the next
      lock.unlock();
      const bool loaded = LoadFrom(follower, chosen);
      lock.lock();
      if (loaded) return active_.store(false, std::memory_order_release);
      if (candidates_.empty()) decide_at = kNever;
      continue;
    }
    if (decide_at == kNever && bounded && Clock::now() >= deadline) {
      lock.unlock();
      LogWarning("recovery: no follower holding data polled within " + Seconds(options_.wait) +
                 "; starting a new history");
      return active_.store(false, std::memory_order_release);
    }
    const auto until = decide_at != kNever ? decide_at : bounded ? deadline : Clock::now() + std::chrono::seconds(1);
    changed_.wait_until(lock, until);
  }
}

bool LeaderRecovery::LoadFrom(const std::string& follower, const Candidate& from) {
  LogInfo("recovery: loading a snapshot from " + follower + " (" + from.peer_url +
          "), the most advanced follower: history " + from.history.ToHex() + ", seq " +
          std::to_string(from.seq));
  httplib::Client client(from.peer_url);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(30, 0);
  client.set_write_timeout(5, 0);
  client.set_tcp_nodelay(true);
  if (options_.token != nullptr) client.set_bearer_token_auth(options_.token->Current().c_str());
  tls::ConfigureClient(client, options_.tls);
  const SnapshotFetch fetched = FetchSnapshot(stores_, client, options_.name, stop_);
  if (!fetched.ok) {
    LogWarning("recovery: the snapshot from " + follower + " failed: " + fetched.error);
    return false;
  }
  if (fetched.header.history != from.history) {
    // It changed history in between: still a complete store of its data.
    LogWarning("recovery: " + follower + " answered history " + fetched.header.history.ToHex() +
               " instead of " + from.history.ToHex());
  }
  LogInfo("recovery: loaded " + std::to_string(fetched.header.entries) + " keys of history " +
          fetched.header.history.ToHex() + " up to seq " + std::to_string(fetched.header.seq) +
          " from " + follower + "; accepting writes");
  return true;
}

}  // namespace mehdbd::replication

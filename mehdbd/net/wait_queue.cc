// SPDX-License-Identifier: MIT
//
// Implementation of wait_queue.h.
#include "net/wait_queue.h"

#include <algorithm>
#include <atomic>

namespace mehdbd::net {
namespace {

// Sequentially consistent: a handler that read an epoch before the stamp
// of the notification it waits for is ordered before that notification,
// so whatever the notifier saw before notifying (a new sequence, an ack)
// is either seen by the handler's check or reported by Add() as missed.
std::atomic<std::uint64_t> g_epoch{0};

}  // namespace

std::uint64_t WaitQueue::Epoch() { return g_epoch.load(); }

void WaitQueue::Add(std::weak_ptr<void> alive, std::function<void()> wake, std::uint64_t since) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (notified_ <= since) {
      // Waiters woken by their deadline stay listed until the next event;
      // with no event for a long time they would pile up, so drop the dead
      // ones now and then (amortised: each prune at least doubles the next
      // threshold's distance from the live count).
      if (waiters_.size() >= prune_at_) {
        std::erase_if(waiters_, [](const auto& w) { return w.first.expired(); });
        prune_at_ = std::max<std::size_t>(256, waiters_.size() * 2);
      }
      waiters_.emplace_back(std::move(alive), std::move(wake));
      if (waiters_.size() == 1) listed_.notify_one();
      return;
    }
  }
  // Notified between the waiter's check and now: it checks again at once.
  if (!alive.expired()) wake();
}

void WaitQueue::NotifyAll() {
  std::vector<std::pair<std::weak_ptr<void>, std::function<void()>>> woken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = ++g_epoch;
    woken.swap(waiters_);
    prune_at_ = 256;
  }
  for (auto& [alive, wake] : woken)
    if (!alive.expired()) wake();
}

bool WaitQueue::WaitForWaiters(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return listed_.wait_for(lock, timeout, [&] { return !waiters_.empty(); });
}

std::size_t WaitQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace mehdbd::net

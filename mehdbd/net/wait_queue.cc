// SPDX-License-Identifier: MIT
//
// Implementation of wait_queue.h.
#include "net/wait_queue.h"

#include <algorithm>

namespace mehdbd::net {

void WaitQueue::Add(std::weak_ptr<void> alive, std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  // Waiters woken by their deadline stay listed until the next event; with
  // no event for a long time they would pile up, so drop the dead ones now
  // and then (amortised: each prune at least doubles the next threshold's
  // distance from the live count).
  if (waiters_.size() >= prune_at_) {
    std::erase_if(waiters_, [](const auto& w) { return w.first.expired(); });
    prune_at_ = std::max<std::size_t>(256, waiters_.size() * 2);
  }
  waiters_.emplace_back(std::move(alive), std::move(wake));
}

void WaitQueue::NotifyAll() {
  std::vector<std::pair<std::weak_ptr<void>, std::function<void()>>> woken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken.swap(waiters_);
    prune_at_ = 256;
  }
  for (auto& [alive, wake] : woken)
    if (!alive.expired()) wake();
}

std::size_t WaitQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace mehdbd::net

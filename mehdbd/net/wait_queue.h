// SPDX-License-Identifier: MIT
//
// Where parked requests wait for an event without a thread: a handler
// that must wait (a read for a sequence not yet applied, a write waiting
// for followers' acks, a follower's long-poll) parks its request on a
// WaitQueue (Response::Park) and returns; its worker is free at once. The
// producer of the event (a store watcher, the ack table) calls NotifyAll(),
// and each parked request runs its resume function on a worker again.
//
// Thread safety: every method from any thread.
#ifndef MEHDBD_NET_WAIT_QUEUE_H_
#define MEHDBD_NET_WAIT_QUEUE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace mehdbd::net {

class WaitQueue {
 public:
  // `wake` runs once, on the thread of the next NotifyAll(), unless `alive`
  // has expired by then (the waiter was woken some other way).
  void Add(std::weak_ptr<void> alive, std::function<void()> wake);
  void NotifyAll();
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::weak_ptr<void>, std::function<void()>>> waiters_;
  std::size_t prune_at_ = 256;  // guarded by mu_
};

}  // namespace mehdbd::net

#endif  // MEHDBD_NET_WAIT_QUEUE_H_

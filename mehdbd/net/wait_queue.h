// SPDX-License-Identifier: MIT
//
// Where parked requests wait for an event without a thread: a handler
// that must wait (a read for a sequence not yet applied, a write waiting
// for followers' acks, a follower's long-poll) parks its request on a
// WaitQueue (Response::Park) and returns; its worker is free at once. The
// producer of the event (a store watcher, the ack table) calls NotifyAll(),
// and each parked request runs its resume function on a worker again.
//
// A handler checks its condition on a worker, but its request joins the
// queue later, on the connection's loop: a notification in between would
// be lost, and the request would sleep to its deadline although its
// condition holds. So every notification is stamped from one process-wide
// counter, the connection reads the counter (Epoch()) before the handler
// runs, and Add() wakes at once a waiter whose queue was notified since.
//
// Thread safety: every method from any thread.
#ifndef MEHDBD_NET_WAIT_QUEUE_H_
#define MEHDBD_NET_WAIT_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace mehdbd::net {

class WaitQueue {
 public:
  // The stamp of the latest notification of any queue. Read it before
  // checking the condition a request may park on, and pass it to Add().
  static std::uint64_t Epoch();

  // `wake` runs once, on the thread of the next NotifyAll(), unless `alive`
  // has expired by then (the waiter was woken some other way). If this
  // queue was notified after `since` (an Epoch() value), the waiter may
  // have missed it: `wake` then runs at once, on this thread.
  void Add(std::weak_ptr<void> alive, std::function<void()> wake, std::uint64_t since);
  void NotifyAll();
  std::size_t size() const;
  // Blocks until a waiter is listed or `timeout` passes; answers whether
  // one is. For a notifier that only needs to watch while someone waits.
  bool WaitForWaiters(std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable listed_;  // the list became non-empty
  std::vector<std::pair<std::weak_ptr<void>, std::function<void()>>> waiters_;
  std::size_t prune_at_ = 256;   // guarded by mu_
  std::uint64_t notified_ = 0;   // guarded by mu_: the stamp of the latest NotifyAll()
};

}  // namespace mehdbd::net

#endif  // MEHDBD_NET_WAIT_QUEUE_H_

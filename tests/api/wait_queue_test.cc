// SPDX-License-Identifier: MIT
//
// WaitQueue's missed-notification rule (net/wait_queue.h): a request checks
// its condition on a worker but joins the queue later, on its loop; a
// notification in between must wake it at once, or it sleeps to its
// deadline with its condition true (a follower's min_seq read waited its
// whole --max-seq-wait for a write it had already applied). The cluster
// suite's ReadYourWritesOnAFollowerWithALongSeqWait shows it end to end;
// here each order of check, notification and join is set up exactly.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "net/wait_queue.h"

namespace mehdb_test {
namespace {

using mehdbd::net::WaitQueue;

// A waiter: counts its wake-ups; alive while `token` is held.
struct Waiter {
  std::shared_ptr<char> token = std::make_shared<char>(0);
  int woken = 0;
  void Join(WaitQueue& queue, std::uint64_t since) {
    queue.Add(token, [this] { ++woken; }, since);
  }
};

TEST(WaitQueue, ANotificationBetweenCheckAndJoinWakesAtOnce) {
  WaitQueue queue;
  Waiter waiter;
  const std::uint64_t checked = WaitQueue::Epoch();  // the handler checks here...
  queue.NotifyAll();                                 // ...the event happens...
  waiter.Join(queue, checked);                       // ...then it parks
  EXPECT_EQ(waiter.woken, 1);
  EXPECT_EQ(queue.size(), 0u);
  queue.NotifyAll();  // it was not listed: one wake-up only
  EXPECT_EQ(waiter.woken, 1);
}

TEST(WaitQueue, AWaiterThatCheckedAfterTheLastNotificationWaitsForTheNext) {
  WaitQueue queue;
  queue.NotifyAll();
  Waiter waiter;
  waiter.Join(queue, WaitQueue::Epoch());
  EXPECT_EQ(waiter.woken, 0);
  EXPECT_EQ(queue.size(), 1u);
  queue.NotifyAll();
  EXPECT_EQ(waiter.woken, 1);
  queue.NotifyAll();  // woken once, then off the list
  EXPECT_EQ(waiter.woken, 1);
}

TEST(WaitQueue, OtherQueuesNotificationsDoNotWake) {
  WaitQueue queue, other;
  Waiter waiter;
  const std::uint64_t checked = WaitQueue::Epoch();
  other.NotifyAll();  // moves the process-wide epoch, not this queue's
  waiter.Join(queue, checked);
  EXPECT_EQ(waiter.woken, 0);
  EXPECT_EQ(queue.size(), 1u);
}

TEST(WaitQueue, AWaiterGoneBeforeItsWakeUpIsNotCalled) {
  WaitQueue queue;
  Waiter missed, listed;
  const std::uint64_t checked = WaitQueue::Epoch();
  queue.NotifyAll();
  missed.token.reset();  // woken some other way (its deadline) meanwhile
  missed.Join(queue, checked);
  EXPECT_EQ(missed.woken, 0);
  listed.Join(queue, WaitQueue::Epoch());
  listed.token.reset();
  queue.NotifyAll();
  EXPECT_EQ(listed.woken, 0);
}

// A notifier that watches only while someone waits (SeqWatch) sleeps in
// WaitForWaiters: the first waiter to join must release it. Its wait here
// is an hour, so a join that does not wake it hangs the test (the suite's
// timeout fails it) instead of passing late.
TEST(WaitQueue, TheFirstWaiterReleasesWaitForWaiters) {
  WaitQueue queue;
  EXPECT_FALSE(queue.WaitForWaiters(std::chrono::milliseconds(1)));  // none listed
  std::promise<bool> released;
  std::thread watcher([&] { released.set_value(queue.WaitForWaiters(std::chrono::hours(1))); });
  // Most likely asleep by then; if not, it finds the waiter listed at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Waiter waiter;
  waiter.Join(queue, WaitQueue::Epoch());
  EXPECT_TRUE(released.get_future().get());
  watcher.join();
  EXPECT_TRUE(queue.WaitForWaiters(std::chrono::milliseconds(1)));  // still listed
  queue.NotifyAll();
  EXPECT_FALSE(queue.WaitForWaiters(std::chrono::milliseconds(1)));  // woken: none left
}

}  // namespace
}  // namespace mehdb_test

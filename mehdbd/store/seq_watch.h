// SPDX-License-Identifier: MIT
//
// SeqWatch: turns the live store's sequence moving into WaitQueue
// notifications, for requests parked until a sequence is reached (reads
// with min_seq, followers' long-polls): while any request is parked, one
// thread blocks in Store::WaitForSeq for the next commit or applied batch,
// instead of one thread per waiting request; while none is, it sleeps
// until one parks. It follows the store a follower swaps in after a
// snapshot.
//
// Thread safety: queue() from any thread; construct and destroy from one.
#ifndef MEHDBD_STORE_SEQ_WATCH_H_
#define MEHDBD_STORE_SEQ_WATCH_H_

#include <atomic>
#include <memory>
#include <thread>

#include "net/wait_queue.h"
#include "store/store_handle.h"

namespace mehdbd {

class SeqWatch {
 public:
  // Starts watching; `stores` must outlive this object.
  explicit SeqWatch(StoreHandle& stores);
  ~SeqWatch();  // stops the thread
  SeqWatch(const SeqWatch&) = delete;
  SeqWatch& operator=(const SeqWatch&) = delete;

  const std::shared_ptr<net::WaitQueue>& queue() const { return queue_; }

 private:
  void Run();

  StoreHandle& stores_;
  const std::shared_ptr<net::WaitQueue> queue_ = std::make_shared<net::WaitQueue>();
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mehdbd

#endif  // MEHDBD_STORE_SEQ_WATCH_H_

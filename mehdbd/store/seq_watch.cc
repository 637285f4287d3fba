// SPDX-License-Identifier: MIT
//
// Implementation of seq_watch.h.
#include "store/seq_watch.h"

#include <pthread.h>

#include <chrono>

namespace mehdbd {

SeqWatch::SeqWatch(StoreHandle& stores) : stores_(stores) {
  thread_ = std::thread([this] { Run(); });
  ::pthread_setname_np(thread_.native_handle(), "mehdbd-seqwatch");
}

SeqWatch::~SeqWatch() {
  stop_.store(true);
  thread_.join();
}

void SeqWatch::Run() {
  // The wait's timeout bounds how long a stop goes unnoticed. A store
  // swapped in by a snapshot is seen at once: the swap ends the waits on
  // the old store (Store::EndSeqWaits), and the sequence then compares
  // afresh on the new one.
  constexpr auto kSlice = std::chrono::milliseconds(100);
  std::shared_ptr<mehdb::Store> store = stores_.Current();
  mehdb::Seq seen = store->LastSeq();
  while (!stop_.load()) {
    // Only parked requests need notifying, so with none this waits for the
    // first to park rather than waking on every commit (a context switch
    // per group commit, for nothing). A commit while idle still reaches a
    // request that checked the sequence before it and parked after: the
    // comparison with `seen` below notifies once the request is listed.
    mehdb::Seq now = 0;
    if (queue_->WaitForWaiters(kSlice)) now = store->WaitForSeq(seen + 1, kSlice);
    std::shared_ptr<mehdb::Store> current = stores_.Current();
    if (current != store) {
      store = std::move(current);
      seen = 0;  // compare afresh: a new store's sequence is another count
    }
    const mehdb::Seq last = store->LastSeq();
    if (last != seen || now > seen) {
      seen = last;
      queue_->NotifyAll();
    }
  }
  queue_->NotifyAll();  // nobody stays parked on a watch that ended
}

}  // namespace mehdbd

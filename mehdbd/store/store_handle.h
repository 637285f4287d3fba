// SPDX-License-Identifier: MIT
//
// StoreHandle: the daemon's live store, and the data-directory layout that
// lets a follower replace it whole after loading a snapshot.
//
//   DATADIR/current -> store-000002    (a symlink, switched by rename(2))
//   DATADIR/store-000002/              (the live LMDB environment)
//   DATADIR/store-000003/              (a snapshot being loaded, if any)
//
// A new store is loaded beside the live one; Promote() points `current` at
// it in one atomic rename, then swaps it in memory. Requests that still hold
// the old store finish on it; it is closed and its directory removed when the
// last of them lets go. A crash at any point leaves `current` naming a
// complete store; Open() removes whatever else it finds.
//
// Thread safety: all methods may be called from any thread.
#ifndef MEHDBD_STORE_STORE_HANDLE_H_
#define MEHDBD_STORE_STORE_HANDLE_H_

#include <mehdb/store.h>

#include <memory>
#include <mutex>
#include <string>

namespace mehdbd {

class StoreHandle {
 public:
  // Opens (creating if needed) the store `current` names under `datadir`.
  static mehdb::Result<std::unique_ptr<StoreHandle>> Open(const std::string& datadir,
                                                          const mehdb::Options& options);

  // The live store. Hold the pointer for one request, not longer.
  std::shared_ptr<mehdb::Store> Current() const;

  // A fresh, empty store in a new directory beside the live one.
  struct Fresh {
    std::string dir;
    std::shared_ptr<mehdb::Store> store;
  };
  mehdb::Result<Fresh> CreateFresh();
  // A store in a new directory beside the live one, made from a copy of
  // `data_file` (one LMDB data file, as GET /backup streams it) placed there
  // as data.mdb, synced and opened (which checks it is a mehdb store). The
  // file itself is only read.
  mehdb::Result<Fresh> CreateFromDataFile(const std::string& data_file);

  // Makes `fresh` the live store (see the file comment).
  mehdb::Status Promote(Fresh fresh);
  // Throws away a fresh store that will not be promoted.
  void Discard(Fresh fresh);

  const std::string& datadir() const { return datadir_; }

  // The layout's names, for code that prepares a store before the daemon
  // opens it (legacy_import.cc): the n-th store's directory, and a durable
  // atomic switch of `current` to the directory `name` under `datadir`.
  static std::string StoreDirName(unsigned n);
  static mehdb::Status LinkCurrent(const std::string& datadir, const std::string& name);

 private:
  StoreHandle(std::string datadir, mehdb::Options options)
      : datadir_(std::move(datadir)), options_(std::move(options)) {}
  mehdb::Result<std::shared_ptr<mehdb::Store>> OpenDir(const std::string& name,
                                                       bool create);

  const std::string datadir_;
  const mehdb::Options options_;
  mutable std::mutex mu_;
  std::shared_ptr<mehdb::Store> current_;
  std::string current_name_;
  unsigned next_number_ = 1;
};

}  // namespace mehdbd

#endif  // MEHDBD_STORE_STORE_HANDLE_H_

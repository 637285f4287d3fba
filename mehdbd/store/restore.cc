// SPDX-License-Identifier: MIT
#include "store/restore.h"

namespace mehdbd {
namespace {

using mehdb::Code;
using mehdb::Status;

// "N keys, seq S, history H" of a store.
mehdb::Result<std::string> Summary(const mehdb::Store& store) {
  auto keys = store.Count();
  if (!keys.ok()) return keys.status();
  return std::to_string(*keys) + " keys, seq " + std::to_string(store.LastSeq()) +
         ", history " + store.History().ToHex();
}

}  // namespace

mehdb::Result<std::string> RestoreBackup(StoreHandle& stores, const std::string& file,
                                         bool force) {
  auto live = stores.Current();
  auto live_keys = live->Count();
  if (!live_keys.ok()) return live_keys.status();
  if ((*live_keys > 0 || live->LastSeq() > 0) && !force) {
    auto what = Summary(*live);
    return Status(Code::kFailedPrecondition,
                  stores.datadir() + " already holds a store (" + (what.ok() ? *what : "") +
                      "): not replacing it with " + file +
                      "; move it away, or add --restore-force to replace it");
  }
  live.reset();

  auto fresh = stores.CreateFromDataFile(file);
  if (!fresh.ok()) return fresh.status();
  auto what = Summary(*fresh->store);
  if (!what.ok()) {
    stores.Discard(std::move(*fresh));
    return Status(what.status().code(), file + ": " + what.status().ToString());
  }
  if (Status s = stores.Promote(std::move(*fresh)); !s.ok()) return s;
  return "restored " + file + " into " + stores.datadir() + ": " + *what;
}

}  // namespace mehdbd

// SPDX-License-Identifier: MIT
//
// Import of mehdb 0.6's on-disk layout, run once at start before the store
// is opened. The original keeps each key as a directory named like the key
// holding the value in a file `content` (ORIGINAL_API.md, "On disk"):
//
//   DATADIR/abc/content            the original's key "abc"
//
// becomes
//
//   DATADIR/current -> store-000001
//   DATADIR/store-000001/          our store, holding every imported key
//   DATADIR/mehdb-0.6/abc/content  the original's files, kept until an
//                                  operator removes them
//
// The steps, and what a crash after each leaves:
//   1. create mehdb-0.6/ with the marker .import-in-progress
//   2. write every key into store-000001 (not yet named by `current`)
//   3. switch `current` to it in one atomic rename          <- commit point
//   4. move the imported key directories into mehdb-0.6/, remove the marker
// Before 3 there is no `current`: the next start removes the staged store
// and imports again from the untouched originals (some may already sit in
// mehdb-0.6/ when the marker says so). After 3 the marker makes the next
// start finish step 4; a move that fails there is a warning, not a failed
// start, since the store is complete. Without a marker and with `current`,
// nothing is done: a second start is a no-op.
//
// Entries the original could not have written (names outside [a-z]{1,255},
// symlinks, a `content` that is not a regular file, other files) are logged
// one per line and left where they are; a key directory's extra files are
// logged and moved with it. Nothing is guessed at.
#ifndef MEHDBD_STORE_LEGACY_IMPORT_H_
#define MEHDBD_STORE_LEGACY_IMPORT_H_

#include <mehdb/options.h>
#include <mehdb/status.h>

#include <string>

namespace mehdbd {

// The directory under DATADIR that keeps the original's files.
inline constexpr const char* kLegacyArchiveDir = "mehdb-0.6";

// Imports `datadir`'s original layout if it holds one (see the file comment)
// and logs what it did. An error (unreadable file, a value over
// options.max_value_bytes, disk full, an archive left by an earlier import)
// means the daemon must not start; the original's files are intact then.
mehdb::Status ImportLegacyLayout(const std::string& datadir, const mehdb::Options& options);

}  // namespace mehdbd

#endif  // MEHDBD_STORE_LEGACY_IMPORT_H_

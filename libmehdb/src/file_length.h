// SPDX-License-Identifier: MIT
//
// CheckFileLength: whether LMDB's data file holds every page its meta page
// may send a reader to. LMDB maps the file and reads pages through the map,
// so a page past the end of a cut file is SIGBUS, not an error; this runs at
// open, before any transaction touches a page.
//
// The file may legitimately end before the meta page's last page: a page a
// transaction allocated and freed again before committing ("loose") goes to
// the free list unwritten, and LMDB never extends the file for it. So a
// short file is refused only if one of the pages it lacks is not on the
// free list. The free list is read here with pread (not through the map),
// from LMDB 0.9's on-disk layout, every field bounds-checked: a damaged
// free list is kDataLoss too.
#ifndef MEHDB_SRC_FILE_LENGTH_H_
#define MEHDB_SRC_FILE_LENGTH_H_

#include <lmdb.h>

#include <mehdb/status.h>

#include <string>

namespace mehdb::internal {

// `env` is open on `data_file`; kDataLoss naming the file when it is cut
// short.
Status CheckFileLength(MDB_env* env, const std::string& data_file);

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_FILE_LENGTH_H_

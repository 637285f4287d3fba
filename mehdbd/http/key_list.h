// SPDX-License-Identifier: MIT
//
// Key listings as JSON text. GET /keys must stay byte-identical to the
// original (a compact JSON array of every key, sorted byte-wise, then "\n"),
// so the array is written by hand, one page of keys at a time, straight from
// a scan: no JSON document is built, no values are copied, and a listing of
// any size needs memory for one page only.
#ifndef MEHDBD_HTTP_KEY_LIST_H_
#define MEHDBD_HTTP_KEY_LIST_H_

#include <mehdb/store.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace mehdbd::http {

// Appends `s` as a JSON string. Printable ASCII is copied as is (every key the
// HTTP API accepts); control characters are escaped, and bytes that are not
// valid UTF-8 become U+FFFD (keys written by embedding apps may be binary).
void AppendJsonString(std::string& out, std::string_view s);

// True when `s` is valid UTF-8 (so AppendJsonString keeps every byte).
bool IsValidUtf8(std::string_view s);

// A cursor over a listing.
struct KeyCursor {
  std::string prefix;
  std::string after;  // last key already listed
  bool first = true;  // no key written yet (no comma needed)
  bool done = false;  // no keys left
};

// Appends up to `limit` (> 0) keys after `cursor` as JSON array elements
// (with the separating commas, without the brackets) and advances the
// cursor. Sets cursor.done when no key follows the page.
mehdb::Status AppendKeyPage(const mehdb::Store& store, std::size_t limit,
                            KeyCursor& cursor, std::string& out);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_KEY_LIST_H_

// SPDX-License-Identifier: MIT
//
// Percent-encoding for building URLs from keys and cursors (RFC 3986
// section 2.1): every byte but the unreserved characters A-Z a-z 0-9
// - . _ ~ becomes %XX. Shared by the daemon's Location and Link headers, the
// follower of an original leader and the `mehdb` client.
#ifndef MEHDBD_BASE_URL_ENCODING_H_
#define MEHDBD_BASE_URL_ENCODING_H_

#include <string>
#include <string_view>

namespace mehdbd {

std::string PercentEncode(std::string_view in);

}  // namespace mehdbd

#endif  // MEHDBD_BASE_URL_ENCODING_H_

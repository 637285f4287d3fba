// SPDX-License-Identifier: MIT
//
// Base64 (RFC 4648, with padding) for bytes that JSON cannot carry as text:
// values and keys that are not UTF-8, in the daemon's /watch answers and in
// the client's -w json output.
#ifndef MEHDBD_BASE_BASE64_H_
#define MEHDBD_BASE_BASE64_H_

#include <string>
#include <string_view>

namespace mehdbd {

std::string Base64Encode(std::string_view bytes);

}  // namespace mehdbd

#endif  // MEHDBD_BASE_BASE64_H_

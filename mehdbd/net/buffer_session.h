// SPDX-License-Identifier: MIT
//
// A connection's request loop over bytes held in memory: the same framing
// (framing.h), Service calls and answer bytes as a socket connection
// (connection.cc), run synchronously on the calling thread. The fuzzer's
// way in (tests/fuzz/http_request_fuzz.cc).
#ifndef MEHDBD_NET_BUFFER_SESSION_H_
#define MEHDBD_NET_BUFFER_SESSION_H_

#include <string>
#include <string_view>

#include "net/front_end.h"
#include "net/service.h"

namespace mehdbd::net {

// Serves the requests in `input` as one connection would, until the input
// ends or an answer closes the connection; answers the bytes written back.
std::string ServeBuffer(Service& service, std::string_view input,
                        const ConnectionLimits& limits);

}  // namespace mehdbd::net

#endif  // MEHDBD_NET_BUFFER_SESSION_H_

// SPDX-License-Identifier: MIT
//
// Internal entry to the log record encoder that works on a span of ops, so
// the write path frames a batch without copying it into a LogRecord first.
#ifndef MEHDB_SRC_LOG_CODEC_H_
#define MEHDB_SRC_LOG_CODEC_H_

#include <mehdb/replication.h>

#include <span>
#include <string>

namespace mehdb::internal {

void EncodeLogFrame(Seq seq, std::uint64_t time_ns, std::span<const LogOp> ops,
                    std::string& out);

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_LOG_CODEC_H_

// SPDX-License-Identifier: MIT
//
// One-line diagnostics for the daemon. Every event is one line on stderr,
// prefixed with "mehdbd:" and a level, so that container log collectors (which
// add their own timestamps) can split and filter them. The access log is
// separate (stdout, see http/access_log.h) because it is data, not diagnostics.
#ifndef MEHDBD_LOG_H_
#define MEHDBD_LOG_H_

#include <string_view>

namespace mehdbd {

enum class LogLevel { kInfo, kWarning, kError };

// Writes "mehdbd: <level>: <message>\n" to stderr as a single write, so lines
// from concurrent threads never interleave. Thread-safe.
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(std::string_view message) {
  Log(LogLevel::kWarning, message);
}
inline void LogError(std::string_view message) {
  Log(LogLevel::kError, message);
}

// Tests silence the info level to keep their output readable.
void SetLogQuiet(bool quiet);

}  // namespace mehdbd

#endif  // MEHDBD_LOG_H_

// SPDX-License-Identifier: MIT
//
// One-line diagnostics for the daemon. Every event is one line on stderr
// with a UTC timestamp (millisecond precision, RFC 3339) and a level:
//
//   text (default): 2026-11-30T18:04:05.123Z mehdbd: warning: <message>
//   json:           {"time":"2026-11-30T18:04:05.123Z","level":"warning",
//                    "logger":"mehdbd","msg":"<message>"}
//
// --log-level drops lines below it, --log-format picks the shape; both can
// change while the daemon runs (SIGHUP re-reads them, see reload.h). The
// access log is separate (stdout, see http/access_log.h) because it is data,
// not diagnostics.
#ifndef MEHDBD_BASE_LOG_H_
#define MEHDBD_BASE_LOG_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mehdbd {

enum class LogLevel { kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

// Writes one line to stderr as a single write, so lines from concurrent
// threads never interleave. Thread-safe.
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(std::string_view message) {
  Log(LogLevel::kWarning, message);
}
inline void LogError(std::string_view message) {
  Log(LogLevel::kError, message);
}

// The least level written (default kInfo), and the line format. Thread-safe.
void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
// Tests silence the info level to keep their output readable.
void SetLogQuiet(bool quiet);

std::string_view LogLevelName(LogLevel level);    // "info", ...
std::string_view LogFormatName(LogFormat format);  // "text", "json"
std::optional<LogLevel> LogLevelFromName(std::string_view name);
std::optional<LogFormat> LogFormatFromName(std::string_view name);

// `when` in UTC as RFC 3339 with milliseconds: "2026-11-30T18:04:05.123Z"
// (the timestamp of log lines and access-log lines).
std::string LogTimestamp(std::chrono::system_clock::time_point when);

// The line Log() writes (with its '\n'), for a given time.
std::string FormatLogLine(LogFormat format,
                          std::chrono::system_clock::time_point when,
                          LogLevel level, std::string_view message);

}  // namespace mehdbd

#endif  // MEHDBD_BASE_LOG_H_

// SPDX-License-Identifier: MIT
//
// Implementation of log.h. A line is assembled first and written with one
// write(2): POSIX makes writes of up to PIPE_BUF bytes to a pipe atomic, which
// is what keeps concurrent lines whole under a container runtime.
#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace mehdbd {
namespace {

std::atomic<LogLevel> min_level{LogLevel::kInfo};
std::atomic<LogFormat> line_format{LogFormat::kText};

}  // namespace

std::string LogTimestamp(std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(when.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[80];  // room for any int fields, though years stay 4 digits
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                utc.tm_min, utc.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

std::string_view LogFormatName(LogFormat format) {
  return format == LogFormat::kJson ? "json" : "text";
}

std::optional<LogLevel> LogLevelFromName(std::string_view name) {
  for (LogLevel l : {LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError})
    if (name == LogLevelName(l)) return l;
  return std::nullopt;
}

std::optional<LogFormat> LogFormatFromName(std::string_view name) {
  for (LogFormat f : {LogFormat::kText, LogFormat::kJson})
    if (name == LogFormatName(f)) return f;
  return std::nullopt;
}

std::string FormatLogLine(LogFormat format,
                          std::chrono::system_clock::time_point when,
                          LogLevel level, std::string_view message) {
  if (format == LogFormat::kJson) {
    nlohmann::ordered_json line = {{"time", LogTimestamp(when)},
                                   {"level", LogLevelName(level)},
                                   {"logger", "mehdbd"},
                                   {"msg", message}};
    // Messages may quote hostile bytes (a path, a peer's answer): invalid
    // UTF-8 becomes U+FFFD rather than breaking the line.
    return line.dump(-1, ' ', false,
                     nlohmann::ordered_json::error_handler_t::replace) +
           "\n";
  }
  std::string line = LogTimestamp(when);
  line += " mehdbd: ";
  line += LogLevelName(level);
  line += ": ";
  line += message;
  line += '\n';
  return line;
}

void Log(LogLevel level, std::string_view message) {
  if (level < min_level.load(std::memory_order_relaxed)) return;
  const std::string line =
      FormatLogLine(line_format.load(std::memory_order_relaxed),
                    std::chrono::system_clock::now(), level, message);
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere else to report a failing stderr
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void SetLogLevel(LogLevel level) {
  min_level.store(level, std::memory_order_relaxed);
}

void SetLogFormat(LogFormat format) {
  line_format.store(format, std::memory_order_relaxed);
}

void SetLogQuiet(bool quiet) {
  SetLogLevel(quiet ? LogLevel::kWarning : LogLevel::kInfo);
}

}  // namespace mehdbd

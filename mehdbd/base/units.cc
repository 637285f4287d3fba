// SPDX-License-Identifier: MIT
//
// Implementation of units.h. Parsing is strict on purpose: "64 M", "1.5G" or
// "5 seconds" are rejected rather than guessed at, because a silently
// misread size or timeout is worse than a refusal to start.
#include "base/units.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace mehdbd {
namespace {

// Splits "123abc" into the number 123 and the suffix "abc". Fails when there
// are no leading digits or the number overflows.
bool SplitNumber(std::string_view text, std::uint64_t& number,
                 std::string_view& suffix) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, number);
  if (ec != std::errc() || ptr == begin) return false;
  suffix = std::string_view(ptr, static_cast<std::size_t>(end - ptr));
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool MultiplyChecked(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

}  // namespace

Parsed<std::uint64_t> ParseSize(std::string_view text) {
  static const std::string kExpected =
      "expected a size like 4096, 64M or 1GiB (suffixes K, M, G, T, KiB, MiB, "
      "GiB, TiB)";
  std::uint64_t number = 0;
  std::string_view suffix;
  if (!SplitNumber(text, number, suffix)) return kExpected;
  const std::string unit = Lower(suffix);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "k" || unit == "kib")
    scale = std::uint64_t{1} << 10;
  else if (unit == "m" || unit == "mib")
    scale = std::uint64_t{1} << 20;
  else if (unit == "g" || unit == "gib")
    scale = std::uint64_t{1} << 30;
  else if (unit == "t" || unit == "tib")
    scale = std::uint64_t{1} << 40;
  else
    return kExpected;
  std::uint64_t bytes = 0;
  if (!MultiplyChecked(number, scale, bytes)) return "size is too large";
  return bytes;
}

Parsed<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  static const std::string kExpected =
      "expected a duration like 500ms, 5s, 2m or 1h (a bare number is seconds)";
  std::uint64_t number = 0;
  std::string_view suffix;
  if (!SplitNumber(text, number, suffix)) return kExpected;
  const std::string unit = Lower(suffix);
  std::uint64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60 * 1000;
  else if (unit == "h")
    scale = 3600 * 1000;
  else
    return kExpected;
  std::uint64_t ms = 0;
  // Cap far below the chrono representation's range; a year is plenty.
  if (!MultiplyChecked(number, scale, ms) || ms > 365ull * 24 * 3600 * 1000)
    return "duration is too long";
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Parsed<bool> ParseBool(std::string_view text) {
  const std::string v = Lower(text);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return std::string("expected true/false, yes/no, on/off or 1/0");
}

Parsed<std::uint64_t> ParseCount(std::string_view text, std::uint64_t min,
                                 std::uint64_t max) {
  std::uint64_t number = 0;
  std::string_view suffix;
  if (!SplitNumber(text, number, suffix) || !suffix.empty() || number < min ||
      number > max) {
    return "expected a whole number from " + std::to_string(min) + " to " +
           std::to_string(max);
  }
  return number;
}

}  // namespace mehdbd

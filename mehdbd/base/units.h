// SPDX-License-Identifier: MIT
//
// Parsers for the value syntaxes that options share: sizes ("64M", "1GiB"),
// durations ("5s", "500ms"), booleans and plain counts. Each answers the value
// or an explanation of what was expected; config.cc adds which option it was.
// They are separate from config.cc so tests can check them one by one.
#ifndef MEHDBD_BASE_UNITS_H_
#define MEHDBD_BASE_UNITS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace mehdbd {

// Either a parsed value or the reason it could not be parsed ("expected a
// size like 64M or 1GiB").
template <typename T>
using Parsed = std::variant<T, std::string>;

// Bytes. A decimal integer with an optional binary suffix: K, KiB, M, MiB, G,
// GiB, T, TiB (case-insensitive; K = KiB = 1024, since memory maps and
// filesystems count in powers of two) or B. Overflow is an error.
Parsed<std::uint64_t> ParseSize(std::string_view text);

// A duration: a decimal integer with a unit ms, s, m or h; a bare number is
// seconds (the unit most people mean for timeouts).
Parsed<std::chrono::milliseconds> ParseDuration(std::string_view text);

// true/yes/on/1 or false/no/off/0, case-insensitive.
Parsed<bool> ParseBool(std::string_view text);

// A decimal integer in [min, max].
Parsed<std::uint64_t> ParseCount(std::string_view text, std::uint64_t min,
                                 std::uint64_t max);

}  // namespace mehdbd

#endif  // MEHDBD_BASE_UNITS_H_

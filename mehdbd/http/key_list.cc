// SPDX-License-Identifier: MIT
//
// Implementation of key_list.h.
#include "http/key_list.h"

#include <span>

namespace mehdbd::http {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned min = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    min = 0x10000;
  } else
    return 0;
  if (i + n > s.size()) return 0;
  unsigned cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) < 0x80) continue;
    const std::size_t n = Utf8Length(s, i);
    if (n == 0) return false;
    i += n - 1;
  }
  return true;
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (std::size_t n = Utf8Length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n - 1;
    } else {
      out += "\\ufffd";
    }
  }
  out += '"';
}

mehdb::Status AppendKeyPage(const mehdb::Store& store, std::size_t limit,
                            KeyCursor& cursor, std::string& out) {
  mehdb::ScanOptions scan;
  scan.prefix = cursor.prefix;
  scan.start_after = cursor.after;
  scan.limit = limit + 1;  // one extra says whether the listing goes on
  std::size_t n = 0;
  bool extra = false;
  std::string last;
  // A Scanner, not ForEach: a listing hands out keys only, so it does not
  // pay (or fail on) each value's checksum; a damaged value is reported
  // when it is read. Entries live in the scanner's read transaction: keys
  // are copied out.
  mehdb::Result<mehdb::Scanner> scanner = store.NewScanner(scan);
  if (!scanner.ok()) return scanner.status();
  mehdb::Status status = mehdb::Status::Ok();
  while (!extra) {
    mehdb::Result<std::span<const mehdb::ScanEntry>> batch = scanner->Next();
    if (!batch.ok()) {
      status = batch.status();
      break;
    }
    if (batch->empty()) break;
    for (const mehdb::ScanEntry& e : *batch) {
      if (n == limit) {  // the extra key: the listing goes on
        extra = true;
        break;
      }
      if (!cursor.first) out += ',';
      cursor.first = false;
      AppendJsonString(out, e.key());
      last.assign(e.key());
      ++n;
    }
  }
  if (!status.ok()) return status;
  cursor.done = !extra;
  if (n > 0) cursor.after = std::move(last);
  return mehdb::Status::Ok();
}

}  // namespace mehdbd::http

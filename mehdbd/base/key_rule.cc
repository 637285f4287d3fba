// SPDX-License-Identifier: MIT
//
// Implementation of key_rule.h: the two key grammars as byte loops (cheap
// enough to run on every request, unlike std::regex).
#include "base/key_rule.h"

#include <mehdb/store.h>

namespace mehdbd {
namespace {

bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }

bool IsUnreserved(unsigned char c) {
  return IsLower(c) || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

}  // namespace

std::optional<std::string> CheckKey(KeyRule rule, std::string_view key) {
  if (key.empty()) return std::string("empty key");
  if (key.size() > mehdb::kMaxKeyBytes) {
    return "key is " + std::to_string(key.size()) + " bytes; the limit is " +
           std::to_string(mehdb::kMaxKeyBytes);
  }
  if (rule == KeyRule::kOriginal) {
    for (unsigned char c : key) {
      if (!IsLower(c)) return std::string("key must match [a-z]+");
    }
    return std::nullopt;
  }
  if (key == "." || key == "..") {
    return std::string("the keys \".\" and \"..\" are reserved");
  }
  for (unsigned char c : key) {
    if (!IsUnreserved(c)) {
      return std::string(
          "key may contain only A-Z a-z 0-9 - . _ ~ (after percent-decoding)");
    }
  }
  return std::nullopt;
}

std::optional<KeyRule> KeyRuleFromName(std::string_view name) {
  if (name == "extended") return KeyRule::kExtended;
  if (name == "original") return KeyRule::kOriginal;
  return std::nullopt;
}

std::string_view KeyRuleName(KeyRule rule) {
  return rule == KeyRule::kOriginal ? "original" : "extended";
}

}  // namespace mehdbd

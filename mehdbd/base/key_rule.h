// SPDX-License-Identifier: MIT
//
// Which keys the HTTP API accepts. The original mehdb matched keys against
// [a-z]+ and answered 404 to anything else; mehdbd accepts a URL-safe
// superset by default and keeps the exact original rule one option away
// (--key-rule=original) for clients that depend on those 404s.
//
// Extended rule: 1..511 bytes (LMDB's key limit) of the RFC 3986 "unreserved"
// characters A-Z a-z 0-9 - . _ ~, except the keys "." and ".." (which URL
// normalisation in clients and proxies rewrites before they reach us). These
// characters never need percent-encoding, so a key is spelled the same in a
// URL, a shell and a log line. "/" is deliberately not a key character: it
// separates path segments, and proxies disagree on what an encoded "%2F" is.
#ifndef MEHDBD_BASE_KEY_RULE_H_
#define MEHDBD_BASE_KEY_RULE_H_

#include <optional>
#include <string>
#include <string_view>

namespace mehdbd {

enum class KeyRule {
  kExtended,  // the default, see above
  kOriginal,  // exactly [a-z]+ (and at most 511 bytes)
};

// The reason `key` is not acceptable under `rule`, or nullopt when it is.
// The reason names the problem, never echoes more than a short prefix of the
// key (keys can be long and are user data).
std::optional<std::string> CheckKey(KeyRule rule, std::string_view key);

// "extended" / "original"; nullopt for anything else.
std::optional<KeyRule> KeyRuleFromName(std::string_view name);
std::string_view KeyRuleName(KeyRule rule);

}  // namespace mehdbd

#endif  // MEHDBD_BASE_KEY_RULE_H_

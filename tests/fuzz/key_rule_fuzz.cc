// SPDX-License-Identifier: MIT
//
// Fuzz target: the key rules (base/key_rule.h) and request-target parsing
// with percent-decoding (http/route.h). The input is used both as a key and
// as a raw request target. Properties:
//  * a key the original rule ([a-z]+) accepts, the default rule accepts too
//    (the default is documented as a superset);
//  * an accepted key needs no percent-encoding, and PercentDecode undoes
//    PercentEncode for any bytes;
//  * the target "/set/" + PercentEncode(key) routes to kSet with exactly
//    that key when the rule accepts it, and is refused (404 or 400, as
//    route.h documents per rule) when it does not;
//  * whatever raw target parses to a key route without `bad` carries a key
//    the rule accepts, and the query is the text after the first '?'.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "base/key_rule.h"
#include "http/route.h"

namespace {

using mehdbd::CheckKey;
using mehdbd::KeyRule;
using mehdbd::http::ParseTarget;
using mehdbd::http::Route;

void CheckEncodedKey(KeyRule rule, const std::string& key) {
  const bool accepted = !CheckKey(rule, key).has_value();
  const auto t = ParseTarget("/set/" + mehdbd::http::PercentEncode(key), rule);
  if (accepted) {
    if (t.route != Route::kSet || t.bad || t.key != key)
      mehdb_fuzz::Fail("an accepted key does not route to itself");
    return;
  }
  if (t.route == Route::kSet && !t.bad)
    mehdb_fuzz::Fail("a refused key routed without a reason");
  if (key.empty() && (t.route != Route::kUnknown || t.bad))
    mehdb_fuzz::Fail("an empty key is not a plain 404");
  if (rule == KeyRule::kExtended && !key.empty() && !t.bad)
    mehdb_fuzz::Fail("the extended rule refused a key without a 400 reason");
}

void CheckRawTarget(KeyRule rule, std::string_view raw) {
  const auto t = ParseTarget(raw, rule);
  const std::size_t q = raw.find('?');
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : raw.substr(q + 1);
  if (t.query != query) mehdb_fuzz::Fail("the query is not the text after '?'");
  const bool key_route = t.route == Route::kSet || t.route == Route::kGet;
  if (key_route && !t.bad && CheckKey(rule, t.key))
    mehdb_fuzz::Fail("a key route carries a key the rule refuses");
  if (!key_route && !t.key.empty())
    mehdb_fuzz::Fail("a route without a key carries one");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  const bool original_ok = !CheckKey(KeyRule::kOriginal, bytes).has_value();
  const bool extended_ok = !CheckKey(KeyRule::kExtended, bytes).has_value();
  if (original_ok && !extended_ok)
    mehdb_fuzz::Fail("the original rule accepts a key the default refuses");

  const std::string encoded = mehdbd::http::PercentEncode(bytes);
  if (extended_ok && encoded != bytes)
    mehdb_fuzz::Fail("an accepted key needed percent-encoding");
  std::string decoded;
  if (!mehdbd::http::PercentDecode(encoded, decoded) || decoded != bytes)
    mehdb_fuzz::Fail("PercentDecode does not undo PercentEncode");
  // Decoding raw input: never longer than what it decodes.
  if (mehdbd::http::PercentDecode(bytes, decoded) && decoded.size() > size)
    mehdb_fuzz::Fail("percent-decoding grew the text");

  for (KeyRule rule : {KeyRule::kExtended, KeyRule::kOriginal}) {
    CheckEncodedKey(rule, bytes);
    CheckRawTarget(rule, bytes);
  }
  return 0;
}

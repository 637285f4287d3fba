// SPDX-License-Identifier: MIT
//
// Implementation of conditions.h (RFC 9110 section 13 reduced to what a
// key-value store needs: strong comparison for If-Match, weak for
// If-None-Match on reads).
#include "http/conditions.h"

#include <algorithm>
#include <charconv>

namespace mehdbd::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// A version is a positive decimal seq; anything else in quotes is a tag from
// somebody else (a proxy, an older build) and simply never matches.
std::optional<mehdb::Seq> VersionOf(std::string_view opaque) {
  mehdb::Seq v = 0;
  auto [ptr, ec] =
      std::from_chars(opaque.data(), opaque.data() + opaque.size(), v);
  if (ec != std::errc() || ptr != opaque.data() + opaque.size() || v == 0) {
    return std::nullopt;
  }
  return v;
}

bool ParseTagList(std::string_view value, TagList& out) {
  value = Trim(value);
  if (value == "*") {
    out.any = true;
    return true;
  }
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view tag = Trim(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view()
                                            : value.substr(comma + 1);
    if (tag.empty()) continue;  // "a, , b" is allowed by the list syntax
    bool weak = false;
    if (tag.substr(0, 2) == "W/") {
      weak = true;
      tag.remove_prefix(2);
    }
    if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return false;
    const auto version = VersionOf(tag.substr(1, tag.size() - 2));
    if (!version)
      ++out.foreign;
    else
      (weak ? out.weak : out.strong).push_back(*version);
  }
  return out.strong.size() + out.weak.size() + out.foreign > 0;
}

bool Contains(const std::vector<mehdb::Seq>& list, mehdb::Seq v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

std::string FormatETag(mehdb::Seq version) {
  return "\"" + std::to_string(version) + "\"";
}

std::optional<Preconditions> ParsePreconditions(const net::Request& req,
                                                std::string& error) {
  Preconditions pre;
  for (const char* name : {"If-Match", "If-None-Match"}) {
    if (!req.has_header(name)) continue;
    TagList list;
    if (!ParseTagList(req.get_header_value(name), list)) {
      error = std::string(name) + ": expected * or entity tags like \"42\"";
      return std::nullopt;
    }
    (name[3] == 'M' ? pre.if_match : pre.if_none_match) = std::move(list);
  }
  return pre;
}

std::optional<WritePlan> PlanWrite(const Preconditions& pre,
                                   std::string& error) {
  WritePlan plan;
  if (pre.empty()) return plan;
  if (pre.if_match && pre.if_none_match) {
    error = "use either If-Match or If-None-Match on a write, not both";
    return std::nullopt;
  }
  plan.conditional = true;
  if (pre.if_none_match) {
    if (!pre.if_none_match->any) {
      error = "If-None-Match on a write takes only * (create if absent)";
      return std::nullopt;
    }
    plan.expect = mehdb::Batch::kAbsent;
    return plan;
  }
  const TagList& m = *pre.if_match;
  if (m.any) {
    plan.expect = mehdb::Batch::kPresent;
    return plan;
  }
  if (m.strong.size() > 1) {
    error = "If-Match on a write takes one entity tag";
    return std::nullopt;
  }
  // Weak and foreign tags never match strongly: the write must fail.
  if (m.strong.empty()) {
    plan.never = true;
    return plan;
  }
  plan.expect = m.strong.front();
  return plan;
}

int ReadOutcome(const Preconditions& pre, std::optional<mehdb::Seq> version) {
  if (pre.if_match) {
    const TagList& m = *pre.if_match;
    const bool ok = version && (m.any || Contains(m.strong, *version));
    if (!ok) return 412;
  }
  if (pre.if_none_match && version) {
    const TagList& n = *pre.if_none_match;
    if (n.any || Contains(n.strong, *version) || Contains(n.weak, *version)) {
      return 304;
    }
  }
  return 0;
}

mehdb::Seq ParseMinSeq(const net::Request& req, std::string& error) {
  std::string text;
  if (req.has_param("min_seq"))
    text = req.get_param_value("min_seq");
  else if (req.has_header("X-Mehdb-Min-Seq"))
    text = req.get_header_value("X-Mehdb-Min-Seq");
  else
    return 0;
  mehdb::Seq v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    error = "min_seq: expected a sequence number";
    return 0;
  }
  return v;
}

}  // namespace mehdbd::http

// SPDX-License-Identifier: MIT
#include "base/prometheus_text.h"

#include <cstdio>
#include <utility>

namespace mehdbd::prometheus {

namespace {

void Header(std::string& out, std::string_view prefix, const char* name, const char* type,
            const char* help) {
  using Line = std::pair<const char*, const char*>;
  for (const auto& [tag, text] : {Line{"# HELP ", help}, Line{"# TYPE ", type}}) {
    out += tag;
    out += prefix;
    out += name;
    out += ' ';
    out += text;
    out += '\n';
  }
}

void Begin(std::string& out, const char* name, const std::string& labels) {
  out += "mehdb_";
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
}

}  // namespace

void Family(std::string& out, const char* name, const char* type, const char* help) {
  Header(out, "mehdb_", name, type, help);
}

void UnprefixedMetric(std::string& out, const char* name, const char* type, const char* help,
                      const std::string& value) {
  Header(out, "", name, type, help);
  out += name;
  out += ' ';
  out += value;
  out += '\n';
}

void Sample(std::string& out, const char* name, const std::string& labels,
            std::uint64_t value) {
  Begin(out, name, labels);
  out += std::to_string(value);
  out += '\n';
}

void Sample(std::string& out, const char* name, const std::string& labels, double value) {
  Begin(out, name, labels);
  out += Number(value);
  out += '\n';
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string Label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace mehdbd::prometheus

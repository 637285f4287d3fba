// SPDX-License-Identifier: MIT
#include "base/prometheus_text.h"

#include <cstdio>

namespace mehdbd::prometheus {

void Family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP mehdb_";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE mehdb_";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

namespace {

void Begin(std::string& out, const char* name, const std::string& labels) {
  out += "mehdb_";
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
}

}  // namespace

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

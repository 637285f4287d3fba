// SPDX-License-Identifier: MIT
//
// Writing Prometheus text exposition format 0.0.4: a family's HELP and TYPE
// lines, then its samples. Every name gets the `mehdb_` prefix here, so the
// callers name metrics without it.
#ifndef MEHDBD_BASE_PROMETHEUS_TEXT_H_
#define MEHDBD_BASE_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace mehdbd::prometheus {

void Family(std::string& out, const char* name, const char* type, const char* help);
// A family of one unlabelled sample named exactly `name` (no mehdb_
// prefix: for conventional names such as process_open_fds), `value` as
// written.
void UnprefixedMetric(std::string& out, const char* name, const char* type, const char* help,
                      const std::string& value);
// `labels` is empty or a comma-separated list built with Label().
void Sample(std::string& out, const char* name, const std::string& labels,
            std::uint64_t value);
void Sample(std::string& out, const char* name, const std::string& labels, double value);
// name="value", with the value escaped as the format requires.
std::string Label(std::string_view name, std::string_view value);
// A float as the format writes it (shortest round-tripping precision).
std::string Number(double v);

}  // namespace mehdbd::prometheus

#endif  // MEHDBD_BASE_PROMETHEUS_TEXT_H_

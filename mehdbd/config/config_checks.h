// SPDX-License-Identifier: MIT
//
// The second half of configuration: turning the option strings that
// program_options collected into a checked Config. Kept apart from the
// program_options plumbing (config.cc) so each file has one job.
#ifndef MEHDBD_CONFIG_CONFIG_CHECKS_H_
#define MEHDBD_CONFIG_CONFIG_CHECKS_H_

#include <map>
#include <optional>
#include <set>
#include <string>

#include "config/config.h"

namespace mehdbd {

// Where each option's value came from, so an error can point at it.
struct Sources {
  std::set<std::string> flags;  // options given on the command line
  std::set<std::string> env;    // options taken from MEHDB_* variables
  std::string file;             // the config file, if one was read
};

// Checks every value in `values` (option name -> text) and stores it in
// `config`. Answers the first problem as one line, e.g.
//   bad value for --port: 'abc': expected a whole number from 1 to 65535
std::optional<std::string> ApplyValues(
    const std::map<std::string, std::string>& values, const Sources& sources,
    Config& config);

}  // namespace mehdbd

#endif  // MEHDBD_CONFIG_CONFIG_CHECKS_H_

// SPDX-License-Identifier: MIT
//
// The `mehdb` client's commands. Each takes the server (base URL, token and
// timeout, see transport.h) and its parsed command line (options.h) and
// answers the process exit code (ExitCodes() below). Messages go to stderr;
// stdout carries only data (a value, keys, a status word) or, with
// `-w json`, one JSON document.
#ifndef MEHDBD_CLI_COMMANDS_H_
#define MEHDBD_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "cli/options.h"

namespace mehdb_cli {

constexpr int kOk = 0;
constexpr int kNotFound = 1;         // the key does not exist
constexpr int kUsage = 2;            // the command line is wrong
constexpr int kHttpError = 3;        // the server refused (4xx/5xx, wrong URL)
constexpr int kConditionFailed = 4;  // --if-version / --if-absent did not hold
constexpr int kAcksShort = 5;        // fewer --acks in time (the write stands)
constexpr int kUnreachable = 6;      // connection refused or no route
constexpr int kDnsFailure = 7;       // the host name does not resolve
constexpr int kTlsFailure = 8;       // TLS handshake or certificate refused
constexpr int kTimedOut = 9;         // --timeout passed
constexpr int kLocalError = 10;      // a local file could not be read or written
constexpr int kTrimmed = 11;         // watch --from is older than the retained log

struct ExitCode {
  int code;
  const char* meaning;
};
const std::vector<ExitCode>& ExitCodes();

struct Endpoint;  // transport.h

using Command = int (*)(const Endpoint& server, const Invocation& line);
// The function for a command of Commands(); nullptr for the ones main()
// answers itself (completion, manual).
Command CommandFor(const std::string& name);

}  // namespace mehdb_cli

#endif  // MEHDBD_CLI_COMMANDS_H_

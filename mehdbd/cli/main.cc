// SPDX-License-Identifier: MIT
//
// `mehdb`, the command-line client for mehdbd: `mehdb --help` lists the
// commands, `mehdb COMMAND --help` describes one, `mehdb manual` prints the
// man page; all of it comes from the tables in options.h.
//
// The URL defaults to $MEHDB_URL, then http://localhost:9876; https:// URLs
// are verified against --ca-file / $MEHDB_CA_FILE (else the system's CAs).
// With --token-file (or $MEHDB_TOKEN_FILE) every request carries the file's
// token as "Authorization: Bearer", for a daemon run with --auth-token-file.
// Exit codes: commands.h.
#include <mehdb/version.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <variant>

#include "base/auth_token.h"
#include "cli/commands.h"
#include "cli/docs.h"
#include "cli/options.h"
#include "cli/transport.h"
#include "base/units.h"

namespace {

std::string FromEnv(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

int UsageError(const std::string& message, const mehdb_cli::CommandSpec* c) {
  std::cerr << "mehdb: " << message << " (see mehdb "
            << (c != nullptr ? std::string(c->name) + " " : "") << "--help)\n";
  return mehdb_cli::kUsage;
}

// The options every command shares: output format, timeout, server.
int SetUp(const mehdb_cli::Invocation& line, mehdb_cli::Endpoint& server) {
  const std::string format = line.Value("write-out", "text");
  if (format != "text" && format != "json")
    return UsageError("-w/--write-out: expected text or json, got '" + format + "'",
                      line.command);
  server.url = line.Value("url", FromEnv("MEHDB_URL", "http://localhost:9876"));
  if (line.Has("timeout")) {
    auto parsed = mehdbd::ParseDuration(line.Value("timeout"));
    const auto* d = std::get_if<std::chrono::milliseconds>(&parsed);
    if (d == nullptr || d->count() <= 0)
      return UsageError("--timeout '" + line.Value("timeout") + "': " +
                            (d == nullptr ? std::get<std::string>(parsed)
                                          : "must be more than 0"),
                        line.command);
    server.timeout = *d;
  }
  {
    const std::string text = line.Value("retry-for", FromEnv("MEHDB_RETRY_FOR", "10s"));
    auto parsed = mehdbd::ParseDuration(text);
    const auto* d = std::get_if<std::chrono::milliseconds>(&parsed);
    if (d == nullptr)
      return UsageError("--retry-for '" + text + "': " + std::get<std::string>(parsed),
                        line.command);
    server.retry_for = *d;
  }
  const std::string token_file =
      line.Value("token-file", FromEnv("MEHDB_TOKEN_FILE", ""));
  if (!token_file.empty()) {
    mehdbd::TokenRead read = mehdbd::ReadTokenFile(token_file);
    if (!read.error.empty()) {
      std::cerr << "mehdb: --token-file: " << read.error << "\n";
      return mehdb_cli::kLocalError;
    }
    server.token = std::move(read.token);
  }
  const std::string ca_file = line.Value("ca-file", FromEnv("MEHDB_CA_FILE", ""));
  if (!ca_file.empty() && ::access(ca_file.c_str(), R_OK) != 0) {
    std::cerr << "mehdb: cannot read --ca-file '" << ca_file << "'\n";
    return mehdb_cli::kLocalError;
  }
  mehdb_cli::SetCaFile(ca_file);
  return mehdb_cli::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  mehdb_cli::Invocation line;
  try {
    line = mehdb_cli::Parse(argc, argv);
  } catch (const mehdb_cli::UsageError& e) {
    return UsageError(e.what(), e.command());
  }
  if (line.Has("version")) {
    std::cout << "mehdb " << MEHDB_VERSION << "\n";
    return mehdb_cli::kOk;
  }
  if (line.Has("help")) {
    std::cout << (line.command != nullptr ? mehdb_cli::CommandHelp(*line.command)
                                          : mehdb_cli::OverallHelp());
    return mehdb_cli::kOk;
  }
  const std::string name = line.command->name;
  if (name == "manual") {
    std::cout << mehdb_cli::ManPage();
    return mehdb_cli::kOk;
  }
  if (name == "completion") {
    const std::string script = mehdb_cli::CompletionScript(line.operands[0]);
    if (script.empty())
      return UsageError("completion: no script for '" + line.operands[0] +
                            "' (bash or zsh)",
                        line.command);
    std::cout << script;
    return mehdb_cli::kOk;
  }
  mehdb_cli::Endpoint server;
  if (const int code = SetUp(line, server); code != mehdb_cli::kOk) return code;
  return mehdb_cli::CommandFor(name)(server, line);
}

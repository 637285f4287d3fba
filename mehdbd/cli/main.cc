// SPDX-License-Identifier: MIT
//
// `mehdb`, the command-line client for mehdbd:
//
//   mehdb [--url URL] get KEY [-o FILE]
//   mehdb [--url URL] put KEY [VALUE | -f FILE | -]
//   mehdb [--url URL] delete KEY
//   mehdb [--url URL] keys [--prefix P] [--limit N]
//   mehdb [--url URL] status [--full]
//   mehdb [--url URL] backup FILE
//
// The URL defaults to $MEHDB_URL, then http://localhost:9876; https:// URLs
// are verified against --ca-file / $MEHDB_CA_FILE (else the system's CAs).
// With --token-file (or $MEHDB_TOKEN_FILE) every request carries the file's
// token as "Authorization: Bearer", for a daemon run with --auth-token-file.
// Exit codes: 0 ok, 1 not found, 2 error.
#include <mehdb/version.h>

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "auth_token.h"
#include "cli/commands.h"
#include "cli/transport.h"

namespace {

constexpr const char* kHelp =
    "Usage: mehdb [--url URL] [--token-file PATH] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  get KEY [-o FILE]                 print a value (or write it to FILE)\n"
    "  put KEY [VALUE | -f FILE | -]     store a value (no VALUE or '-': "
    "stdin)\n"
    "  delete KEY                        remove a key\n"
    "  keys [--prefix P] [--limit N]     list keys, one per line\n"
    "  status [--full]                   role (leader/follower) or key count\n"
    "  backup FILE                       save a consistent copy of the store\n"
    "\n"
    "Options:\n"
    "  --url URL          the daemon (default: $MEHDB_URL, else "
    "http://localhost:9876)\n"
    "  --token-file PATH  send the token in PATH as \"Authorization: Bearer\"\n"
    "                     (default: $MEHDB_TOKEN_FILE, else no token)\n"
    "  --ca-file F        PEM CA certificates trusted for https:// (default:\n"
    "                     $MEHDB_CA_FILE, else the system's)\n"
    "  -h, --help         this help\n"
    "  --version          print the version\n"
    "\n"
    "Writes sent to a follower are redirected (307) to the leader and sent\n"
    "again there. Exit status: 0 ok, 1 not found, 2 error.\n";

}  // namespace

int main(int argc, char** argv) {
  const char* env_url = std::getenv("MEHDB_URL");
  std::string url = env_url && *env_url ? env_url : "http://localhost:9876";
  const char* env_token = std::getenv("MEHDB_TOKEN_FILE");
  std::string token_file = env_token ? env_token : "";
  const char* env_ca = std::getenv("MEHDB_CA_FILE");
  std::string ca_file = env_ca ? env_ca : "";
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kHelp;
      return 0;
    }
    if (arg == "--version") {
      std::cout << "mehdb " << MEHDB_VERSION << "\n";
      return 0;
    }
    if (arg == "--url" && i + 1 < argc) {
      url = argv[++i];
    } else if (arg.rfind("--url=", 0) == 0) {
      url = arg.substr(6);
    } else if (arg == "--token-file" && i + 1 < argc) {
      token_file = argv[++i];
    } else if (arg.rfind("--token-file=", 0) == 0) {
      token_file = arg.substr(13);
    } else if (arg == "--ca-file" && i + 1 < argc) {
      ca_file = argv[++i];
    } else if (arg.rfind("--ca-file=", 0) == 0) {
      ca_file = arg.substr(10);
    } else {
      break;
    }
  }
  if (i >= argc) {
    std::cerr << kHelp;
    return mehdb_cli::kError;
  }
  mehdb_cli::Endpoint server{url, ""};
  if (!token_file.empty()) {
    mehdbd::TokenRead read = mehdbd::ReadTokenFile(token_file);
    if (!read.error.empty()) {
      std::cerr << "mehdb: --token-file: " << read.error << "\n";
      return mehdb_cli::kError;
    }
    server.token = std::move(read.token);
  }
  if (!ca_file.empty() && ::access(ca_file.c_str(), R_OK) != 0) {
    std::cerr << "mehdb: cannot read --ca-file '" << ca_file << "'\n";
    return mehdb_cli::kError;
  }
  mehdb_cli::SetCaFile(ca_file);
  const std::string command = argv[i];
  const mehdb_cli::Args args(argv + i + 1, argv + argc);
  using Command = int (*)(const mehdb_cli::Endpoint&, const mehdb_cli::Args&);
  static const std::map<std::string, Command> kCommands = {
      {"get", mehdb_cli::Get},       {"put", mehdb_cli::Put},
      {"delete", mehdb_cli::Delete}, {"keys", mehdb_cli::Keys},
      {"status", mehdb_cli::Status}, {"backup", mehdb_cli::Backup},
  };
  auto it = kCommands.find(command);
  if (it == kCommands.end()) {
    std::cerr << "mehdb: unknown command '" << command
              << "' (see mehdb --help)\n";
    return mehdb_cli::kError;
  }
  return it->second(server, args);
}

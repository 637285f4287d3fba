// SPDX-License-Identifier: MIT
//
// The `mehdb` client's commands. Each takes the server (base URL and
// token, see transport.h) and its own
// arguments and answers the process exit code: 0 ok, 1 not found, 2 any
// other error (usage, transport, or an unexpected HTTP answer). Messages go
// to stderr; stdout carries only data (a value, keys, a status word).
#ifndef MEHDBD_CLI_COMMANDS_H_
#define MEHDBD_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace mehdb_cli {

constexpr int kOk = 0;
constexpr int kNotFound = 1;
constexpr int kError = 2;

using Args = std::vector<std::string>;
struct Endpoint;  // transport.h

int Get(const Endpoint& server, const Args& args);  // get KEY [-o FILE]
int Put(const Endpoint& server, const Args& args);  // put KEY [VALUE|-f FILE|-]
int Delete(const Endpoint& server, const Args& args);  // delete KEY
int Keys(const Endpoint& server,
         const Args& args);  // keys [--prefix P] [--limit N]
int Status(const Endpoint& server, const Args& args);  // status [--full]
int Backup(const Endpoint& server, const Args& args);  // backup FILE

}  // namespace mehdb_cli

#endif  // MEHDBD_CLI_COMMANDS_H_

// SPDX-License-Identifier: MIT
//
// Everything the `mehdb` client says about itself, made from the tables in
// options.h: `--help` (overall and per command), the man page (roff) and
// the bash and zsh completion scripts.
#ifndef MEHDBD_CLI_DOCS_H_
#define MEHDBD_CLI_DOCS_H_

#include <string>

#include "cli/options.h"

namespace mehdb_cli {

std::string OverallHelp();
std::string CommandHelp(const CommandSpec& command);
std::string ManPage();
// "bash" or "zsh"; empty for any other shell.
std::string CompletionScript(const std::string& shell);

}  // namespace mehdb_cli

#endif  // MEHDBD_CLI_DOCS_H_

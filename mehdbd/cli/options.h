// SPDX-License-Identifier: MIT
//
// The `mehdb` client's command line: one table of commands and options from
// which the parser (Boost.Program_options), `--help`, the man page and the
// shell completions are all made, so they cannot disagree.
//
// Rules: options, global or the command's own, go anywhere on the line;
// `--` ends the options (a key or value starting with '-' goes after it);
// option names are never guessed from a prefix; `-` as an operand means
// stdin or stdout.
#ifndef MEHDBD_CLI_OPTIONS_H_
#define MEHDBD_CLI_OPTIONS_H_

#include <cstddef>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace mehdb_cli {

// What the shell offers for an option's value or a command's operands.
enum class Complete { kNothing, kFile, kWords };

struct OptionSpec {
  const char* name;        // long name, without "--"
  char short_name;         // 0: none
  const char* value;       // the value's placeholder ("FILE"); nullptr: a flag
  const char* help;        // one line
  Complete complete = Complete::kNothing;
  const char* words = "";  // space-separated choices, for kWords
};

struct CommandSpec {
  const char* name;
  const char* operands;  // "KEY [VALUE | -]", for usage lines
  std::size_t min_operands;
  std::size_t max_operands;
  const char* summary;  // one line
  const char* details;  // a paragraph (may be empty)
  std::vector<OptionSpec> options;
  Complete operand_complete = Complete::kNothing;
  const char* operand_words = "";
};

// Options every command takes.
const std::vector<OptionSpec>& GlobalOptions();
// Every command, in the order help lists them.
const std::vector<CommandSpec>& Commands();
const CommandSpec* FindCommand(const std::string& name);

// A command line that parsed. Option values are kept as given (the
// commands check them, so messages can name the option).
struct Invocation {
  const CommandSpec* command = nullptr;  // nullptr: none was given
  std::map<std::string, std::string> values;  // by long name
  std::set<std::string> flags;                // flags that were given
  std::vector<std::string> operands;

  bool Has(const std::string& name) const;
  std::string Value(const std::string& name,
                    const std::string& fallback = "") const;
};

// A command line that does not parse. `command` is set when the command was
// recognised, so the message can point at its own --help.
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& what, const CommandSpec* command)
      : std::runtime_error(what), command_(command) {}
  const CommandSpec* command() const { return command_; }

 private:
  const CommandSpec* command_;
};

// Parses argv[1..argc). Throws UsageError. Operand counts are checked
// unless --help or --version was given.
Invocation Parse(int argc, const char* const* argv);

}  // namespace mehdb_cli

#endif  // MEHDBD_CLI_OPTIONS_H_

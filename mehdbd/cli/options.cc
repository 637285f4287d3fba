// SPDX-License-Identifier: MIT
//
// Implementation of options.h: the tables, and a parser in two steps. The
// command is found first (the first operand, skipping the values of options
// that take one), then the rest of the line is parsed by
// Boost.Program_options against the global options and that command's own,
// so another command's option is an error rather than silently accepted.
#include "cli/options.h"

#include <boost/program_options.hpp>

#include <optional>

namespace mehdb_cli {
namespace {

namespace po = boost::program_options;

const OptionSpec kIfVersion{
    "if-version", 0, "VERSION",
    "only if the key's version (its ETag, the seq of its last write) is "
    "VERSION; else exit 4"};
const OptionSpec kMinSeq{
    "min-seq", 0, "SEQ",
    "answer once the server has applied SEQ (read-your-writes on a "
    "follower)"};

// The long names of options taking a value, and short letters likewise,
// across every command: what the command search must skip.
struct ValueOptions {
  std::set<std::string> long_names;
  std::set<char> short_names;
};

ValueOptions CollectValueOptions() {
  ValueOptions out;
  auto add = [&out](const OptionSpec& o) {
    if (o.value == nullptr) return;
    out.long_names.insert(o.name);
    if (o.short_name != 0) out.short_names.insert(o.short_name);
  };
  for (const OptionSpec& o : GlobalOptions()) add(o);
  for (const CommandSpec& c : Commands())
    for (const OptionSpec& o : c.options) add(o);
  return out;
}

// Finds the command word: its index in args, or nullopt.
std::optional<std::size_t> FindCommandIndex(
    const std::vector<std::string>& args) {
  static const ValueOptions kValues = CollectValueOptions();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return i + 1 < args.size() ? std::optional(i + 1) : std::nullopt;
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      if (a.find('=') == std::string::npos && kValues.long_names.count(a.substr(2)))
        ++i;  // its value
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      // "-o FILE" takes the next word; "-oFILE" does not.
      if (a.size() == 2 && kValues.short_names.count(a[1])) ++i;
      continue;
    }
    return i;
  }
  return std::nullopt;
}

void AddOption(po::options_description& desc, const OptionSpec& o) {
  std::string names = o.name;
  if (o.short_name != 0) names += std::string(",") + o.short_name;
  if (o.value == nullptr) {
    desc.add_options()(names.c_str(), po::bool_switch(), o.help);
  } else {
    desc.add_options()(names.c_str(), po::value<std::string>(), o.help);
  }
}

}  // namespace

const std::vector<OptionSpec>& GlobalOptions() {
  static const std::vector<OptionSpec> kGlobal = {
      {"url", 0, "URL",
       "the daemon (default: $MEHDB_URL, else http://localhost:9876)"},
      {"token-file", 0, "FILE",
       "send the token in FILE as \"Authorization: Bearer\" (default: "
       "$MEHDB_TOKEN_FILE)",
       Complete::kFile},
      {"ca-file", 0, "FILE",
       "PEM CA certificates trusted for https:// (default: $MEHDB_CA_FILE, "
       "else the system's)",
       Complete::kFile},
      {"timeout", 0, "DURATION",
       "give up when connecting, or waiting for the next bytes, takes longer "
       "(500ms, 10s, 2m; default 30s)"},
      {"retry-for", 0, "DURATION",
       "try again for this long while no daemon answers, a read breaks "
       "off, or the daemon answers 503 with Retry-After (a pod "
       "restarting); 0: once (default: $MEHDB_RETRY_FOR, else 10s)"},
      {"write-out", 'w', "FORMAT",
       "output format: text (default) or json (one JSON document on stdout)",
       Complete::kWords, "text json"},
      {"help", 'h', nullptr, "show help (of the command, after one)"},
      {"version", 0, nullptr, "print the version"},
  };
  return kGlobal;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> kCommands = {
      {"get", "KEY", 1, 1, "print a value, or write it to a file",
       "The value goes to stdout as it is stored (no newline added). With -o "
       "FILE it is written to a temporary file beside FILE that replaces FILE "
       "only once the whole value arrived: a missing key or a failure leaves "
       "FILE as it was. -w json prints {key, value (or value_base64 when not "
       "UTF-8), version, applied_seq}.",
       {{"output", 'o', "FILE", "write the value to FILE ('-': stdout)",
         Complete::kFile},
        kMinSeq}},
      {"put", "KEY [VALUE | -]", 1, 2, "store a value",
       "The value is VALUE, or the contents of -f FILE, or stdin (no VALUE, "
       "or '-'). Sent to a follower, the write is redirected (307) to the "
       "leader and sent again there. -w json prints {key, seq, version, "
       "acks}.",
       {{"file", 'f', "FILE", "send the contents of FILE ('-': stdin)",
         Complete::kFile},
        kIfVersion,
        {"if-absent", 0, nullptr, "only if the key does not exist; else exit 4"},
        {"acks", 0, "N",
         "wait until N followers applied the write; exit 5 if fewer did in "
         "time (the write stands)"},
        {"ack-timeout", 0, "DURATION",
         "how long --acks waits (default: the server's --max-ack-wait)"}}},
      {"delete", "KEY", 1, 1, "remove a key", "-w json prints {key, seq}.",
       {kIfVersion}},
      {"keys", "", 0, 0, "list keys in order, one per line",
       "Pages through the listing, so any number of keys works. -w json "
       "prints one JSON array.",
       {{"prefix", 0, "PREFIX", "only keys that start with PREFIX"},
        {"limit", 0, "N", "at most N keys (1 or more)"},
        kMinSeq}},
      {"status", "", 0, 0, "the server's role (leader/follower), or key count",
       "-w json prints {role} or {keys}, with applied_seq and a follower's "
       "state.",
       {{"full", 0, nullptr, "print the number of keys instead of the role"}}},
      {"replication", "", 0, 0, "the server's peer-sync state",
       "Role, history, sequence numbers, lag, snapshots, peer errors and the "
       "followers' acks, as the server's /replication reports them (text: "
       "indented JSON; -w json: one line).",
       {}},
      {"watch", "[PREFIX]", 0, 1, "follow changes to keys (that start with PREFIX)",
       "Prints each change as it commits, oldest first, until interrupted (or "
       "--count changes): text lines 'SEQ put KEY VALUE' and 'SEQ delete KEY' "
       "(a value that is not one line of UTF-8 shows as <N bytes>); -w json: "
       "one JSON object per line, {seq, op, key, size, value or "
       "value_base64}. Works on any replica. Exits 11 when --from is older "
       "than the server's retained change log: list the keys again (mehdb "
       "keys), then watch --from the listing's applied seq + 1.",
       {{"from", 0, "SEQ", "start at sequence number SEQ (default: the next change)"},
        {"count", 0, "N", "exit after N changes (1 or more)"},
        {"sizes-only", 0, nullptr, "print value sizes, not values"}}},
      {"backup", "FILE", 1, 1, "save a consistent copy of the store",
       "Writes the server's LMDB data file to a temporary file beside FILE, "
       "synced, then renamed to FILE ('-': stdout). Place it as data.mdb in "
       "an empty directory to open it. -w json prints {file, bytes}.",
       {},
       Complete::kFile},
      {"completion", "SHELL", 1, 1, "print a completion script (bash or zsh)",
       "bash: `source <(mehdb completion bash)`, or save it as "
       "/usr/share/bash-completion/completions/mehdb. zsh: `source <(mehdb "
       "completion zsh)` in .zshrc.",
       {},
       Complete::kWords,
       "bash zsh"},
      {"manual", "", 0, 0, "print this manual as a man page",
       "View it with `mehdb manual | man -l -`.",
       {}},
  };
  return kCommands;
}

const CommandSpec* FindCommand(const std::string& name) {
  for (const CommandSpec& c : Commands())
    if (name == c.name) return &c;
  return nullptr;
}

bool Invocation::Has(const std::string& name) const {
  return flags.count(name) != 0 || values.count(name) != 0;
}

std::string Invocation::Value(const std::string& name,
                              const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

Invocation Parse(int argc, const char* const* argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Invocation out;
  if (auto at = FindCommandIndex(args)) {
    out.command = FindCommand(args[*at]);
    if (out.command == nullptr)
      throw UsageError("unknown command '" + args[*at] + "'", nullptr);
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(*at));
    // The word after "--" that named the command is gone; if nothing else
    // followed, the "--" is harmless.
  }

  po::options_description desc;
  for (const OptionSpec& o : GlobalOptions()) AddOption(desc, o);
  if (out.command != nullptr)
    for (const OptionSpec& o : out.command->options) AddOption(desc, o);
  desc.add_options()("operand", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("operand", -1);

  // No prefix guessing (--dat is not --datadir), no "/opt" Windows style.
  const int style = po::command_line_style::default_style &
                    ~po::command_line_style::allow_guessing;
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args)
                  .options(desc)
                  .positional(positional)
                  .style(style)
                  .run(),
              vm);
  } catch (const po::error& e) {
    throw UsageError(e.what(), out.command);
  }
  for (const auto& [name, value] : vm) {
    if (name == "operand") {
      out.operands = value.as<std::vector<std::string>>();
    } else if (const auto* flag = boost::any_cast<bool>(&value.value())) {
      if (*flag) out.flags.insert(name);
    } else {
      out.values[name] = value.as<std::string>();
    }
  }
  if (out.Has("help") || out.Has("version")) return out;
  if (out.command == nullptr) {
    if (!out.operands.empty())
      throw UsageError("unknown command '" + out.operands[0] + "'", nullptr);
    throw UsageError("no command given", nullptr);
  }
  const CommandSpec& c = *out.command;
  if (out.operands.size() < c.min_operands ||
      out.operands.size() > c.max_operands) {
    std::string want = c.min_operands == c.max_operands
                           ? std::to_string(c.min_operands)
                           : std::to_string(c.min_operands) + " to " +
                                 std::to_string(c.max_operands);
    throw UsageError(std::string(c.name) + " takes " + want + " operand" +
                         (c.max_operands == 1 ? "" : "s") + " (" +
                         (*c.operands ? c.operands : "none") + "), got " +
                         std::to_string(out.operands.size()) +
                         (out.operands.empty() ? "" : ": '" + out.operands.back() + "'"),
                     out.command);
  }
  return out;
}

}  // namespace mehdb_cli

// SPDX-License-Identifier: MIT
//
// Implementation of docs.h.
#include "cli/docs.h"

#include <mehdb/version.h>

#include <cctype>
#include <set>
#include <sstream>

#include "cli/commands.h"

namespace mehdb_cli {
namespace {

constexpr const char* kSummary =
    "mehdb - command-line client for the mehdbd key-value store";

constexpr const char* kEnvironment[][2] = {
    {"MEHDB_URL", "the daemon's URL, when --url is not given"},
    {"MEHDB_TOKEN_FILE", "the bearer token file, when --token-file is not given"},
    {"MEHDB_CA_FILE", "the CA certificates, when --ca-file is not given"},
};

constexpr const char* kRules =
    "Options go anywhere on the line, before or after the command. `--` ends "
    "the options: a key or value that starts with '-' goes after it "
    "(mehdb put -- -k -v). Option names are never abbreviated. '-' as a file "
    "means stdin or stdout. Files are written through a temporary file that "
    "replaces the target only when complete.";

// `text` broken into lines of at most 79 columns, each after `indent`
// spaces but the first (which continues a line already `indent` wide).
std::string Wrap(const std::string& text, std::size_t indent) {
  std::string out;
  std::size_t column = indent;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(' ', at);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(at, end - at);
    if (column > indent && column + 1 + word.size() > 79) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    at = end + 1;
  }
  return out;
}

std::string Sentence(const char* text) {
  std::string out = text;
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(out[0]));
  return out + ".";
}

std::string OptionLabel(const OptionSpec& o) {
  std::string out;
  if (o.short_name != 0) out += std::string("-") + o.short_name + ", ";
  out += std::string("--") + o.name;
  if (o.value != nullptr) out += std::string(" ") + o.value;
  return out;
}

void HelpOptions(std::ostringstream& out, const std::vector<OptionSpec>& opts) {
  for (const OptionSpec& o : opts) {
    std::string label = "  " + OptionLabel(o);
    if (label.size() < 26) label.resize(26, ' ');
    else label += "\n" + std::string(26, ' ');
    out << label << Wrap(o.help, 26) << "\n";
  }
}

std::string Usage(const CommandSpec& c) {
  std::string out = std::string("mehdb [OPTIONS] ") + c.name;
  if (!c.options.empty()) out += " [" + std::string(c.name) + " OPTIONS]";
  if (*c.operands) out += std::string(" ") + c.operands;
  return out;
}

// roff: a leading '.' or '\'' would read as a request, '\' as an escape,
// '-' as a hyphen (so options would not copy-paste).
std::string Roff(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

void ManOptions(std::ostringstream& out, const std::vector<OptionSpec>& opts) {
  for (const OptionSpec& o : opts) {
    out << ".TP\n\\fB" << Roff(OptionLabel(o)) << "\\fR\n"
        << Roff(o.help) << "\n";
  }
}

// The words a completion offers after `mehdb CMD`: its options and the
// global ones.
std::string OptionWords(const std::vector<OptionSpec>& opts) {
  std::string out;
  for (const OptionSpec& o : opts) {
    out += std::string(" --") + o.name;
    if (o.short_name != 0) out += std::string(" -") + o.short_name;
  }
  return out;
}

std::string BashScript() {
  std::ostringstream s;
  s << "# bash completion for mehdb (made by `mehdb completion bash`)\n"
    << "_mehdb() {\n"
    << "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    << "  local cmd='' i w\n"
    << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
    << "    w=${COMP_WORDS[i]}\n"
    << "    case $w in\n";
  // Skip the values of options that take one, as the parser does.
  std::string takes_value;
  auto add_value_opts = [&takes_value](const std::vector<OptionSpec>& opts) {
    for (const OptionSpec& o : opts) {
      if (o.value == nullptr) continue;
      std::string names = std::string("--") + o.name;
      if (o.short_name != 0) names += std::string("|-") + o.short_name;
      if (takes_value.find(names) == std::string::npos)
        takes_value += (takes_value.empty() ? "" : "|") + names;
    }
  };
  add_value_opts(GlobalOptions());
  for (const CommandSpec& c : Commands()) add_value_opts(c.options);
  s << "      " << takes_value << ") ((i++)) ;;\n"
    << "      -*) ;;\n"
    << "      *) cmd=$w; break ;;\n"
    << "    esac\n"
    << "  done\n"
    << "  case $prev in\n";
  auto value_cases = [&s](const std::vector<OptionSpec>& opts) {
    for (const OptionSpec& o : opts) {
      if (o.value == nullptr) continue;
      std::string names = std::string("--") + o.name;
      if (o.short_name != 0) names += std::string("|-") + o.short_name;
      s << "    " << names << ")\n";
      if (o.complete == Complete::kFile)
        s << "      COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n";
      else if (o.complete == Complete::kWords)
        s << "      COMPREPLY=($(compgen -W '" << o.words
          << "' -- \"$cur\")); return ;;\n";
      else
        s << "      return ;;\n";
    }
  };
  value_cases(GlobalOptions());
  std::set<std::string> done;
  for (const CommandSpec& c : Commands()) {
    std::vector<OptionSpec> fresh;
    for (const OptionSpec& o : c.options)
      if (done.insert(o.name).second) fresh.push_back(o);
    value_cases(fresh);
  }
  s << "  esac\n"
    << "  local global='" << OptionWords(GlobalOptions()).substr(1) << "'\n"
    << "  case $cmd in\n";
  std::string names;
  for (const CommandSpec& c : Commands()) {
    names += std::string(names.empty() ? "" : " ") + c.name;
    s << "    " << c.name << ")\n"
      << "      if [[ $cur == -* ]]; then\n"
      << "        COMPREPLY=($(compgen -W \"$global"
      << OptionWords(c.options) << "\" -- \"$cur\"))\n";
    if (c.operand_complete == Complete::kFile)
      s << "      else\n        COMPREPLY=($(compgen -f -- \"$cur\"))\n";
    else if (c.operand_complete == Complete::kWords)
      s << "      else\n        COMPREPLY=($(compgen -W '" << c.operand_words
        << "' -- \"$cur\"))\n";
    s << "      fi ;;\n";
  }
  s << "    *)\n"
    << "      if [[ $cur == -* ]]; then\n"
    << "        COMPREPLY=($(compgen -W \"$global\" -- \"$cur\"))\n"
    << "      else\n"
    << "        COMPREPLY=($(compgen -W '" << names << "' -- \"$cur\"))\n"
    << "      fi ;;\n"
    << "  esac\n"
    << "}\n"
    << "complete -F _mehdb mehdb\n";
  return s.str();
}

}  // namespace

std::string OverallHelp() {
  std::ostringstream out;
  out << "Usage: mehdb [OPTIONS] COMMAND [COMMAND OPTIONS] [OPERANDS]\n\n"
      << "Commands:\n";
  for (const CommandSpec& c : Commands()) {
    std::string label = std::string("  ") + c.name + " " + c.operands;
    if (label.size() < 26) label.resize(26, ' ');
    out << label << c.summary << "\n";
  }
  out << "\nOptions (any command):\n";
  HelpOptions(out, GlobalOptions());
  out << "\n" << Wrap(kRules, 0) << "\n\nmehdb COMMAND --help describes a command.\n"
      << "\nExit status:\n";
  for (const ExitCode& e : ExitCodes())
    out << (e.code < 10 ? "   " : "  ") << e.code << "  " << Wrap(e.meaning, 7)
        << "\n";
  return out.str();
}

std::string CommandHelp(const CommandSpec& c) {
  std::ostringstream out;
  out << "Usage: " << Usage(c) << "\n\n" << Sentence(c.summary) << "\n";
  if (*c.details) out << Wrap(c.details, 0) << "\n";
  if (!c.options.empty()) {
    out << "\n" << c.name << " options:\n";
    HelpOptions(out, c.options);
  }
  out << "\nOptions (any command):\n";
  HelpOptions(out, GlobalOptions());
  return out.str();
}

std::string ManPage() {
  std::ostringstream out;
  out << ".\\\" Made by `mehdb manual` from the client's option tables.\n"
      << ".TH MEHDB 1 \"\" \"mehdb " << MEHDB_VERSION << "\" \"User Commands\"\n"
      << ".SH NAME\n" << Roff(kSummary) << "\n"
      << ".SH SYNOPSIS\n";
  for (const CommandSpec& c : Commands())
    out << ".br\n\\fBmehdb\\fR [\\fIOPTIONS\\fR] \\fB" << c.name << "\\fR "
        << Roff(c.operands) << "\n";
  out << ".SH DESCRIPTION\n"
      << "Talks to a mehdbd daemon over HTTP or HTTPS. Values are bytes; "
         "keys follow the daemon's key rule.\n.PP\n"
      << Roff(kRules) << "\n"
      << ".SH OPTIONS\nThese go with any command.\n";
  ManOptions(out, GlobalOptions());
  out << ".SH COMMANDS\n";
  for (const CommandSpec& c : Commands()) {
    out << ".SS " << Roff(Usage(c)) << "\n" << Roff(Sentence(c.summary)) << "\n";
    if (*c.details) out << Roff(c.details) << "\n";
    ManOptions(out, c.options);
  }
  out << ".SH ENVIRONMENT\n";
  for (const auto& e : kEnvironment)
    out << ".TP\n.B " << e[0] << "\n" << Roff(e[1]) << "\n";
  out << ".SH EXIT STATUS\n";
  for (const ExitCode& e : ExitCodes())
    out << ".TP\n.B " << e.code << "\n" << Roff(e.meaning) << "\n";
  out << ".SH SEE ALSO\n\\fBmehdbd\\fR(8), curl(1)\n";
  return out.str();
}

std::string CompletionScript(const std::string& shell) {
  if (shell == "bash") return BashScript();
  // zsh runs bash completion functions through bashcompinit.
  if (shell == "zsh")
    return "# zsh completion for mehdb (made by `mehdb completion zsh`)\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           BashScript();
  return "";
}

}  // namespace mehdb_cli

// SPDX-License-Identifier: MIT
//
// Implementation of config.h with Boost.Program_options. Every value is read
// as a string and checked here rather than by program_options' lexical_cast,
// so a bad value produces one line that says which option, where it came
// from (flag, environment or file) and what was expected.
//
// Priority comes from program_options' store(): the first source to set an
// option wins, so the command line is stored first, then the environment,
// then the config file; defaults only fill what is left.
#include "config.h"

#include <mehdb/version.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "config_checks.h"

extern char** environ;

namespace po = boost::program_options;

namespace mehdbd {
namespace {

struct OptionSpec {
  const char* name;
  const char* default_text;  // shown in --help; nullptr = no default value
  const char* help;
  const char* implicit = nullptr;  // value of a bare `--name`, if allowed
};

// The one list of options. Defaults here must match Config's initialisers.
constexpr OptionSpec kOptions[] = {
    {"host", nullptr,
     "identity: <set>-<ordinal> decides the role (default: this machine's "
     "hostname)"},
    {"port", "9876", "TCP port to listen on"},
    {"bind", "0.0.0.0", "address to listen on"},
    {"datadir", "./data", "data directory (created if missing)"},
    {"namespace", "default", "Kubernetes namespace, for the leader's DNS name"},
    {"service", "mehdb", "the StatefulSet's governing (headless) Service"},
    {"cluster-domain", "cluster.local", "cluster DNS domain"},
    {"leader-url", nullptr,
     "leader base URL; overrides the one derived from the host name"},
    {"local", nullptr,
     "non-empty: follower of http://localhost:9999 (the original's local "
     "development mode)",
     "yes"},
    {"config", nullptr, "INI-style file of `name = value` settings"},
    {"durability", "sync", "sync (a write returns once on disk) or nosync"},
    {"map-size", "64MiB", "initial LMDB map size"},
    {"max-map-size", "16GiB", "ceiling the map may grow to"},
    {"max-value-size", "16MiB", "largest value accepted (larger: 413)"},
    {"log-retain-entries", "100000", "change-log records kept for followers"},
    {"log-retain-bytes", "256MiB", "change-log bytes kept for followers"},
    {"key-rule", "extended",
     "extended (A-Z a-z 0-9 - . _ ~) or original ([a-z]+)"},
    {"threads", "64", "HTTP worker threads = requests handled at once"},
    {"read-timeout", "5s", "longest wait for request bytes"},
    {"write-timeout", "5s", "longest wait to send response bytes"},
    {"idle-timeout", "5s", "keep-alive connections idle this long are closed"},
    {"keep-alive-requests", "100", "requests per connection before closing"},
    {"max-seq-wait", "1s", "longest a read with min_seq waits"},
    {"access-log", "false", "one line per request on stdout", "true"},
    {"peer-port", "9877",
     "TCP port of the peer-sync listener (a leader serves its change log "
     "there; a follower reaches its leader's)"},
    {"leader-peer-url", nullptr,
     "leader's peer base URL; default: the leader URL with --peer-port"},
    {"poll-wait", "5s", "longest a follower's log poll waits at the leader"},
    {"peer-batch-bytes", "4MiB", "most log bytes a follower asks for at once"},
    {"max-lag-records", "1000",
     "a follower further behind than this is not ready"},
    {"resnapshot-on-mismatch", "false",
     "a follower facing a leader with another history replaces its data "
     "with the leader's (default: refuse and stay not ready)",
     "true"},
    {"max-ack-wait", "10s", "longest a write with acks=N waits for followers"},
};

std::string EnvName(std::string_view option) {
  std::string env = "MEHDB_";
  for (char c : option) {
    env += c == '-'
               ? '_'
               : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

po::options_description Describe(bool with_commands) {
  po::options_description desc(
      "Options (each also MEHDB_<NAME> and a config "
      "file key; flag > env > file > default)",
      // Wide enough that no MEHDB_* name is broken across lines.
      110, 55);
  if (with_commands) {
    desc.add_options()("help,h", "print this help and exit")(
        "version", "print the version and exit");
  }
  for (const OptionSpec& spec : kOptions) {
    if (!with_commands && std::string_view(spec.name) == "config") continue;
    auto* value = po::value<std::string>()->value_name("VALUE");
    if (spec.implicit) value->implicit_value(spec.implicit);
    std::string help = spec.help;
    help += " [" + EnvName(spec.name) + "]";
    if (spec.default_text) {
      help += std::string(" (default: ") + spec.default_text + ")";
    }
    desc.add_options()(spec.name, value, help.c_str());
  }
  return desc;
}

// The environment as program_options entries: only MEHDB_* variables that
// name an option, never empty ones (a manifest's `value: ""` means unset).
po::parsed_options ParseEnvironment(const po::options_description& desc,
                                    const std::vector<std::string>& env,
                                    std::vector<std::string>& notes) {
  std::map<std::string, std::string> by_env;
  for (const OptionSpec& spec : kOptions)
    by_env[EnvName(spec.name)] = spec.name;
  po::parsed_options parsed(&desc);
  for (const std::string& entry : env) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || entry.compare(0, 6, "MEHDB_") != 0) continue;
    const std::string name = entry.substr(0, eq);
    const std::string value = entry.substr(eq + 1);
    auto it = by_env.find(name);
    if (it == by_env.end() || value.empty()) continue;
    if (name == "MEHDB_PORT" && value.rfind("tcp://", 0) == 0) {
      notes.push_back("ignoring MEHDB_PORT=" + value +
                      ": a Kubernetes service link for a Service named "
                      "\"mehdb\", not a port (set enableServiceLinks: false)");
      continue;
    }
    po::option option;
    option.string_key = it->second;
    option.value.push_back(value);
    option.original_tokens.push_back(entry);
    parsed.options.push_back(std::move(option));
  }
  return parsed;
}

std::set<std::string> Keys(const po::parsed_options& parsed) {
  std::set<std::string> keys;
  for (const po::option& o : parsed.options) keys.insert(o.string_key);
  return keys;
}

std::string HelpText(const po::options_description& desc) {
  std::ostringstream out;
  out << "Usage: mehdbd [options]\n\n"
         "mehdb daemon: the mehdb HTTP API over a crash-safe LMDB store.\n"
         "Role from the host name <set>-<ordinal>: ordinal 0 leads, others "
         "follow\nhttp://<set>-0.<service>.<namespace>.svc.<cluster-domain>:"
         "<port>; no ordinal: standalone.\n\n"
      << desc
      << "\nSizes take K/M/G/T or KiB/MiB/GiB/TiB (powers of 1024); "
         "durations take ms/s/m/h.\n";
  return out.str();
}

}  // namespace

std::vector<std::string> ProcessEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

ConfigOutcome ParseConfig(int argc, const char* const* argv,
                          const std::vector<std::string>& environment) {
  ConfigOutcome out;
  auto fail = [&out](std::string message) {
    out.action = ConfigOutcome::Action::kError;
    out.text = "mehdbd: " + std::move(message);
    return out;
  };
  const po::options_description desc = Describe(true);
  // parsed_options point at their description: it must outlive store().
  const po::options_description file_desc = Describe(false);
  po::variables_map vm;
  Sources sources;
  std::string stage;  // where the parser is, for error messages
  try {
    po::parsed_options cmdline =
        po::command_line_parser(argc, argv).options(desc).run();
    for (const po::option& o : cmdline.options) {
      if (o.position_key >= 0 || o.string_key.empty()) {
        return fail(
            "unexpected argument '" +
            (o.original_tokens.empty() ? "" : o.original_tokens.front()) +
            "' (every option is --name=value)");
      }
    }
    sources.flags = Keys(cmdline);
    po::store(cmdline, vm);
    if (vm.count("help")) {
      out.action = ConfigOutcome::Action::kHelp;
      out.text = HelpText(desc);
      return out;
    }
    if (vm.count("version")) {
      out.action = ConfigOutcome::Action::kVersion;
      out.text = std::string("mehdbd ") + MEHDB_VERSION + "\n";
      return out;
    }
    stage = "in the environment";
    po::parsed_options env = ParseEnvironment(desc, environment, out.notes);
    sources.env = Keys(env);
    po::store(env, vm);
    if (vm.count("config")) {
      sources.file = vm["config"].as<std::string>();
      stage = "in config file '" + sources.file + "'";
      po::parsed_options file =
          po::parse_config_file<char>(sources.file.c_str(), file_desc, false);
      po::store(file, vm);
    }
    po::notify(vm);
  } catch (const po::reading_file&) {
    return fail("--config: cannot read config file '" + sources.file + "'");
  } catch (const po::error& e) {
    // program_options names the option itself; we add where it was.
    return fail(std::string(e.what()) + (stage.empty() ? "" : " " + stage));
  }
  std::map<std::string, std::string> values;
  for (const auto& [name, value] : vm) {
    if (name == "help" || name == "version") continue;
    values[name] = value.as<std::string>();
  }
  if (auto error = ApplyValues(values, sources, out.config)) {
    return fail(*error);
  }
  return out;
}

}  // namespace mehdbd

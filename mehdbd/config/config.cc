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
#include "config/config.h"

#include <fcntl.h>
#include <mehdb/version.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "config/config_checks.h"

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
     "hostname, whose ordinal counts only in a Kubernetes pod)"},
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
    {"wal-segment-size", "64MiB", "size of a write-ahead log segment file"},
    {"max-unapplied", "128MiB",
     "writers wait while acknowledged writes not yet applied to LMDB exceed this"},
    {"apply-batch", "8MiB", "most bytes of logged writes applied to LMDB in one transaction"},
    {"apply-delay", "200ms",
     "how long logged writes gather before the applier commits them to LMDB as one batch"},
    {"log-retain-entries", "100000", "change-log records kept for followers"},
    {"log-retain-bytes", "256MiB", "change-log bytes kept for followers"},
    {"snapshot-log-grace", "5m",
     "after serving a snapshot, keep the log after its seq this long beyond "
     "--log-retain-entries (not beyond --log-retain-bytes), so the follower "
     "that loads it can resume from the log"},
    {"key-rule", "extended",
     "extended (A-Z a-z 0-9 - . _ ~) or original ([a-z]+)"},
    {"threads", "64", "HTTP worker threads = requests handled at once (a waiting client holds none)"},
    {"read-timeout", "5s", "longest wait for request bytes"},
    {"write-timeout", "5s", "longest wait to send response bytes"},
    {"idle-timeout", "5s", "keep-alive connections idle this long are closed"},
    {"keep-alive-requests", "100", "requests per connection before closing"},
    {"max-connections", "10000",
     "open client connections at most; past it the oldest idle one is "
     "closed (or the new one, when none is idle)"},
    {"max-buffered-bodies", "256MiB",
     "request body bytes held in memory at once over all connections; a "
     "body that would pass it is refused with 503 and Retry-After"},
    {"event-loops", "0",
     "network event-loop threads (0: one per core, at most 4)"},
    {"max-seq-wait", "1s", "longest a read with min_seq waits"},
    {"access-log", "false", "one line per request on stdout", "true"},
    {"log-level", "info",
     "least level of diagnostics on stderr: info, warning or error (SIGHUP "
     "re-reads it)"},
    {"log-format", "text",
     "diagnostics as text lines or json (one object per line; SIGHUP "
     "re-reads it)"},
    {"peer-port", "9877",
     "TCP port of the peer-sync listener (a leader serves its change log "
     "there; a follower reaches its leader's)"},
    {"leader-peer-url", nullptr,
     "leader's peer base URL; default: the leader URL with --peer-port"},
    {"poll-wait", "5s", "longest a follower's log poll waits at the leader"},
    {"peer-batch-bytes", "4MiB", "most log bytes a follower asks for at once"},
    {"max-lag-records", "1000",
     "a follower further behind than this is not ready"},
    {"max-staleness", "5m",
     "a follower out of contact with its leader stays ready for reads while "
     "its data is at most this old (covers a leader's restart)"},
    {"resnapshot-on-mismatch", "false",
     "a follower facing a leader with another history replaces its data "
     "with the leader's (default: refuse and stay not ready)",
     "true"},
    {"max-ack-wait", "10s", "longest a write with acks=N waits for followers"},
    {"restore-from", nullptr,
     "at start, make this backup file (GET /backup, `mehdb backup`) the "
     "store of --datadir: same keys, values and history; refused when the "
     "store already holds data, unless --restore-force"},
    {"restore-force", "false",
     "--restore-from replaces a store that holds data", "true"},
    {"restore-only", "false",
     "exit after --restore-from instead of serving (for a one-off Job)",
     "true"},
    {"forget-followers-after", "60s",
     "a leader forgets a follower (no longer counts its acks or lists it) "
     "once it has had no log poll open for this long"},
    {"leader-recovery", "auto",
     "a leader starting on an empty store: auto (wait up to "
     "--recovery-wait for a follower that holds data and load a snapshot "
     "from the most advanced one, keeping its history; else start a new "
     "history), fresh (start a new history at once) or followers (wait for "
     "such a follower however long); writes get 503 while it waits"},
    {"recovery-wait", "10s",
     "how long --leader-recovery=auto waits for followers' polls"},
    {"drain-delay", "5s",
     "after SIGTERM, /readyz fails at once and requests are still served "
     "this long (for Endpoints to drop the pod) before listeners close; a "
     "second SIGTERM ends the delay"},
    {"auth-token-file", nullptr,
     "file holding the bearer token that writes, /backup and the peer port "
     "require (re-read when it changes, e.g. a mounted Secret); followers "
     "send it to the leader (default: no authentication)"},
    {"auth-reads", "open",
     "open, or token: reads (/get, /keys, /status, /replication) need the "
     "token too; /healthz, /readyz and /metrics stay open"},
    {"tls-cert", nullptr,
     "PEM certificate chain: serve the client and peer ports over TLS "
     "(reloaded when the file changes; needs --tls-key)"},
    {"tls-key", nullptr, "PEM private key of --tls-cert"},
    {"tls-ca", nullptr,
     "PEM CA certificates a follower trusts for its leader's certificate "
     "(default: the system's)"},
    {"tls-verify-hostname", "true",
     "a follower also checks that the leader's certificate names the "
     "leader's host",
     "true"},
    {"health-port", "0",
     "plain-HTTP port answering only /healthz, /readyz and /metrics (for "
     "probes when the main port speaks TLS); 0 = off"},
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

// Edit distance between two short names (for "did you mean").
std::size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Kubernetes' service links for a Service named mehdb or mehdb-*
// (MEHDB_SERVICE_HOST, MEHDB_PORT_9876_TCP_ADDR, ...).
bool LooksLikeServiceLink(const std::string& name) {
  return name.find("_SERVICE_") != std::string::npos ||
         name.find("_PORT_") != std::string::npos;
}

// A MEHDB_* variable that names no option, most likely a typo
// (MEHDB_PORTT): the note suggests the closest name.
std::string UnknownVariableNote(const std::string& name,
                                const std::map<std::string, std::string>& by_env) {
  std::string note = "ignoring " + name + ": mehdbd has no such option";
  std::string best;
  std::size_t best_distance = 3;  // suggest only close names
  for (const auto& [env, option] : by_env) {
    const std::size_t d = Distance(name, env);
    if (d < best_distance) {
      best = env;
      best_distance = d;
    }
  }
  return best.empty() ? note : note + " (did you mean " + best + "?)";
}

// The environment as program_options entries: only MEHDB_* variables that
// name an option, never empty ones (a manifest's `value: ""` means unset).
// Other MEHDB_* variables are noted.
po::parsed_options ParseEnvironment(const po::options_description& desc,
                                    const std::vector<std::string>& env,
                                    std::vector<std::string>& notes) {
  std::map<std::string, std::string> by_env;
  for (const OptionSpec& spec : kOptions)
    by_env[EnvName(spec.name)] = spec.name;
  // The mehdb client's variables, often set in the same shell.
  static const std::set<std::string> kClientVariables = {
      "MEHDB_URL", "MEHDB_TOKEN_FILE", "MEHDB_CA_FILE"};
  po::parsed_options parsed(&desc);
  std::vector<std::string> service_links;
  for (const std::string& entry : env) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || entry.compare(0, 6, "MEHDB_") != 0) continue;
    const std::string name = entry.substr(0, eq);
    const std::string value = entry.substr(eq + 1);
    auto it = by_env.find(name);
    if (it == by_env.end()) {
      if (LooksLikeServiceLink(name)) {
        service_links.push_back(name);
      } else if (!kClientVariables.count(name)) {
        notes.push_back(UnknownVariableNote(name, by_env));
      }
      continue;
    }
    if (value.empty()) continue;
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
  if (!service_links.empty()) {
    std::string names;
    for (const std::string& n : service_links)
      names += (names.empty() ? "" : ", ") + n;
    notes.push_back("ignoring " + names +
                    ": Kubernetes service links, no mehdbd options (set "
                    "enableServiceLinks: false)");
  }
  return parsed;
}

std::set<std::string> Keys(const po::parsed_options& parsed) {
  std::set<std::string> keys;
  for (const po::option& o : parsed.options) keys.insert(o.string_key);
  return keys;
}

// A config file is a few hundred bytes of settings. Anything that is not a
// regular file of at most this size (a directory, /dev/zero, a FIFO nobody
// writes to) is refused with one line instead of hanging or exhausting
// memory at start-up.
constexpr off_t kMaxConfigFileBytes = off_t{1} << 20;

// Reads the config file at `path` into `text`; the reason on failure.
std::optional<std::string> ReadConfigFile(const std::string& path,
                                          std::string& text) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::string(std::strerror(errno));
  struct stat st {};
  std::optional<std::string> error;
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = "not a regular file";
  } else if (st.st_size > kMaxConfigFileBytes) {
    error = "larger than " + std::to_string(kMaxConfigFileBytes) + " bytes";
  }
  char buf[8192];
  while (!error && text.size() <= static_cast<std::size_t>(kMaxConfigFileBytes)) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  if (!error && text.size() > static_cast<std::size_t>(kMaxConfigFileBytes)) {
    error = "larger than " + std::to_string(kMaxConfigFileBytes) + " bytes";
  }
  ::close(fd);
  return error;
}

// Boost 1.74's error_with_option_name::what() replaces each placeholder in
// its message ("%original_token%", "%value%", ...) with the offending text
// until none is left, so offending text that itself contains the placeholder
// loops forever: `mehdbd -%original_token%` hung at start-up (found by
// tests/fuzz/config_fuzz.cc). When any input holds a '%', the line is built
// from the option's name, which involves no substitution.
std::string DescribeError(const po::error& e, bool inputs_have_percent) {
  if (!inputs_have_percent) return e.what();
  if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&e))
    return "cannot parse option '" + named->get_option_name() + "'";
  return e.what();  // messages without placeholders are fixed text
}

bool HasPercent(std::string_view text) {
  return text.find('%') != std::string_view::npos;
}

std::string HelpText(const po::options_description& desc) {
  std::ostringstream out;
  out << "Usage: mehdbd [options]\n\n"
         "mehdb daemon: the mehdb HTTP API over a crash-safe LMDB store.\n"
         "Role from the host name <set>-<ordinal> (--host, or this machine's "
         "name in a\nKubernetes pod): ordinal 0 leads, others follow\n"
         "http://<set>-0.<service>.<namespace>.svc.<cluster-domain>:<port>; "
         "no ordinal, or\nthe machine's own name outside Kubernetes: "
         "standalone.\n\n"
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
  bool inputs_have_percent = false;  // see DescribeError
  for (int i = 0; i < argc; ++i)
    inputs_have_percent = inputs_have_percent || HasPercent(argv[i]);
  for (const std::string& entry : environment)
    inputs_have_percent = inputs_have_percent || HasPercent(entry);
  try {
    // No guessing from prefixes: --dat must not be taken for --datadir.
    po::parsed_options cmdline =
        po::command_line_parser(argc, argv)
            .options(desc)
            .style(po::command_line_style::default_style &
                   ~po::command_line_style::allow_guessing)
            .run();
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
      std::string text;
      if (auto error = ReadConfigFile(sources.file, text)) {
        return fail("--config: cannot read config file '" + sources.file +
                    "': " + *error);
      }
      inputs_have_percent = inputs_have_percent || HasPercent(text);
      std::istringstream in(text);
      po::parsed_options file =
          po::parse_config_file<char>(in, file_desc, false);
      po::store(file, vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    // program_options names the option itself; we add where it was.
    return fail(DescribeError(e, inputs_have_percent) +
                (stage.empty() ? "" : " " + stage));
  }
  std::map<std::string, std::string> values;
  for (const auto& [name, value] : vm) {
    if (name == "help" || name == "version") continue;
    values[name] = value.as<std::string>();
  }
  if (auto error = ApplyValues(values, sources, out.config)) {
    return fail(*error);
  }
  for (const std::string& entry : environment) {
    if (entry.rfind("KUBERNETES_SERVICE_HOST=", 0) == 0 && entry.size() > 24)
      out.config.in_kubernetes = true;
  }
  return out;
}

}  // namespace mehdbd

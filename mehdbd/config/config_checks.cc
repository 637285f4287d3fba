// SPDX-License-Identifier: MIT
//
// Implementation of config_checks.h: one small checker per option, in a
// table keyed by option name, so adding an option is one line here and one
// in config.cc's kOptions.
#include "config/config_checks.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <limits>

#include "base/auth_token.h"
#include "tls/server_context.h"
#include "base/units.h"

namespace mehdbd {
namespace {

using Reason = std::optional<std::string>;
using Checker = std::function<Reason(const std::string&, Config&)>;

template <typename T>
const std::string* ErrorOf(const Parsed<T>& parsed) {
  return std::get_if<std::string>(&parsed);
}

// Checkers for the shared syntaxes; `store` receives the parsed value.
Checker Size(std::uint64_t min, std::uint64_t max,
             std::function<void(Config&, std::uint64_t)> store) {
  return [=](const std::string& text, Config& c) -> Reason {
    auto parsed = ParseSize(text);
    if (auto* e = ErrorOf(parsed)) return *e;
    const std::uint64_t v = std::get<std::uint64_t>(parsed);
    if (v < min || v > max) {
      return "must be from " + std::to_string(min) + " to " +
             std::to_string(max) + " bytes";
    }
    store(c, v);
    return std::nullopt;
  };
}

Checker Count(std::uint64_t min, std::uint64_t max,
              std::function<void(Config&, std::uint64_t)> store) {
  return [=](const std::string& text, Config& c) -> Reason {
    auto parsed = ParseCount(text, min, max);
    if (auto* e = ErrorOf(parsed)) return *e;
    store(c, std::get<std::uint64_t>(parsed));
    return std::nullopt;
  };
}

Checker Duration(std::chrono::milliseconds min, std::chrono::milliseconds max,
                 std::function<void(Config&, std::chrono::milliseconds)> set) {
  return [=](const std::string& text, Config& c) -> Reason {
    auto parsed = ParseDuration(text);
    if (auto* e = ErrorOf(parsed)) return *e;
    const auto v = std::get<std::chrono::milliseconds>(parsed);
    if (v < min || v > max) {
      return "must be from " + std::to_string(min.count()) + "ms to " +
             std::to_string(max.count()) + "ms";
    }
    set(c, v);
    return std::nullopt;
  };
}

Checker Duration(std::chrono::milliseconds min, std::chrono::milliseconds max,
                 std::chrono::milliseconds Config::*field) {
  return Duration(min, max, [field](Config& c, std::chrono::milliseconds v) { c.*field = v; });
}

// Names that end up in DNS names or URLs: no spaces, slashes or colons.
Checker Name(std::string Config::*field) {
  return [=](const std::string& text, Config& c) -> Reason {
    if (text.empty()) return std::string("must not be empty");
    for (unsigned char ch : text) {
      if (ch <= ' ' || ch == '/' || ch == ':' || ch >= 0x7f) {
        return std::string("must be a DNS name (no spaces, '/' or ':')");
      }
    }
    c.*field = text;
    return std::nullopt;
  };
}

Checker Text(std::string Config::*field, bool allow_empty) {
  return [=](const std::string& text, Config& c) -> Reason {
    if (!allow_empty && text.empty()) return std::string("must not be empty");
    c.*field = text;
    return std::nullopt;
  };
}

Reason CheckLeaderUrl(const std::string& text, Config& c) {
  std::string url = text;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.empty()) {
    c.leader_url.clear();
    return std::nullopt;
  }
  const bool http = url.rfind("http://", 0) == 0;
  const bool https = url.rfind("https://", 0) == 0;
  const std::size_t host_at = http ? 7 : 8;
  if ((!http && !https) || url.size() <= host_at ||
      url.find_first_of(" ?#", host_at) != std::string::npos) {
    return std::string("expected a base URL like http://mehdb-0.mehdb:9876");
  }
  c.leader_url = url;
  return std::nullopt;
}

const std::map<std::string, Checker>& Checkers() {
  using ms = std::chrono::milliseconds;
  constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
  static const std::map<std::string, Checker> checkers = {
      {"host", Text(&Config::host, true)},
      {"port", Count(1, 65535, [](Config& c, auto v) { c.port = int(v); })},
      {"bind", Text(&Config::bind, false)},
      {"datadir", Text(&Config::datadir, false)},
      {"namespace", Name(&Config::ns)},
      {"service", Name(&Config::service)},
      {"cluster-domain", Name(&Config::cluster_domain)},
      {"leader-url", CheckLeaderUrl},
      {"local", Text(&Config::local, true)},
      {"config", Text(&Config::config_file, true)},
      {"durability",
       [](const std::string& t, Config& c) -> Reason {
         if (t == "sync")
           c.store.durability = mehdb::Durability::kSync;
         else if (t == "nosync")
           c.store.durability = mehdb::Durability::kNoSync;
         else
           return std::string("expected sync or nosync");
         return std::nullopt;
       }},
      {"map-size", Size(1 << 20, kMaxU64,
                        [](Config& c, auto v) { c.store.map_bytes = v; })},
      {"max-map-size",
       Size(1 << 20, kMaxU64,
            [](Config& c, auto v) { c.store.max_map_bytes = v; })},
      {"max-value-size", Size(1, std::uint64_t{1} << 30,
                              [](Config& c, auto v) {
                                c.store.max_value_bytes = std::size_t(v);
                              })},
      {"wal-segment-size",
       Size(std::uint64_t{64} << 10, std::uint64_t{1} << 40,
            [](Config& c, auto v) { c.store.wal_segment_bytes = v; })},
      {"max-unapplied",
       Size(std::uint64_t{1} << 20, kMaxU64,
            [](Config& c, auto v) { c.store.max_unapplied_bytes = v; })},
      {"apply-batch",
       Size(std::uint64_t{64} << 10, std::uint64_t{1} << 40,
            [](Config& c, auto v) { c.store.apply_batch_bytes = v; })},
      {"apply-delay",
       Duration(ms(0), ms(60000), [](Config& c, ms v) { c.store.apply_delay = v; })},
      {"log-retain-entries",
       Count(1, kMaxU64 >> 1,
             [](Config& c, auto v) { c.store.log_retain_entries = v; })},
      {"log-retain-bytes",
       Size(1, kMaxU64,
            [](Config& c, auto v) { c.store.log_retain_bytes = v; })},
      {"snapshot-log-grace",
       Duration(ms(0), ms(86400000),
                [](Config& c, ms v) { c.store.snapshot_log_grace = v; })},
      {"key-rule",
       [](const std::string& t, Config& c) -> Reason {
         auto rule = KeyRuleFromName(t);
         if (!rule) return std::string("expected extended or original");
         c.key_rule = *rule;
         return std::nullopt;
       }},
      {"threads",
       Count(1, 4096, [](Config& c, auto v) { c.threads = unsigned(v); })},
      {"read-timeout", Duration(ms(10), ms(3600000), &Config::read_timeout)},
      {"write-timeout", Duration(ms(10), ms(3600000), &Config::write_timeout)},
      {"idle-timeout", Duration(ms(1000), ms(3600000), &Config::idle_timeout)},
      {"keep-alive-requests",
       Count(1, 1000000,
             [](Config& c, auto v) { c.keep_alive_requests = unsigned(v); })},
      {"max-connections",
       Count(16, 1000000,
             [](Config& c, auto v) { c.max_connections = std::size_t(v); })},
      {"max-buffered-bodies",
       Size(std::uint64_t{1} << 20, std::uint64_t{1} << 40,
            [](Config& c, auto v) { c.max_buffered_bodies = std::size_t(v); })},
      {"event-loops",
       Count(0, 64, [](Config& c, auto v) { c.event_loops = unsigned(v); })},
      {"max-seq-wait", Duration(ms(0), ms(60000), &Config::max_seq_wait)},
      {"peer-port",
       Count(1, 65535, [](Config& c, auto v) { c.peer_port = int(v); })},
      {"leader-peer-url", Text(&Config::leader_peer_url, true)},
      {"poll-wait", Duration(ms(0), ms(30000), &Config::poll_wait)},
      {"peer-batch-bytes", Size(1024, std::uint64_t{64} << 20,
                                [](Config& c, auto v) { c.peer_batch_bytes = v; })},
      {"max-staleness", Duration(ms(0), ms(86400000), &Config::max_staleness)},
      {"max-lag-records",
       Count(0, kMaxU64 >> 1, [](Config& c, auto v) { c.max_lag_records = v; })},
      {"resnapshot-on-mismatch",
       [](const std::string& t, Config& c) -> Reason {
         auto parsed = ParseBool(t);
         if (auto* e = ErrorOf(parsed)) return *e;
         c.resnapshot_on_mismatch = std::get<bool>(parsed);
         return std::nullopt;
       }},
      {"max-ack-wait", Duration(ms(0), ms(60000), &Config::max_ack_wait)},
      {"restore-from", Text(&Config::restore_from, false)},
      {"restore-force",
       [](const std::string& t, Config& c) -> Reason {
         auto parsed = ParseBool(t);
         if (auto* e = ErrorOf(parsed)) return *e;
         c.restore_force = std::get<bool>(parsed);
         return std::nullopt;
       }},
      {"restore-only",
       [](const std::string& t, Config& c) -> Reason {
         auto parsed = ParseBool(t);
         if (auto* e = ErrorOf(parsed)) return *e;
         c.restore_only = std::get<bool>(parsed);
         return std::nullopt;
       }},
      {"forget-followers-after",
       Duration(ms(100), ms(86400000), &Config::forget_followers_after)},
      {"auth-token-file",
       [](const std::string& t, Config& c) -> Reason {
         if (t.empty()) return std::string("must not be empty");
         // Read now so a missing or empty Secret stops the start-up with
         // exit 2 rather than surfacing as refused requests later.
         TokenRead read = ReadTokenFile(t);
         if (!read.error.empty()) return read.error;
         c.auth_token_file = t;
         return std::nullopt;
       }},
      {"leader-recovery",
       [](const std::string& t, Config& c) -> Reason {
         if (t == "auto")
           c.leader_recovery = Config::LeaderRecovery::kAuto;
         else if (t == "fresh")
           c.leader_recovery = Config::LeaderRecovery::kFresh;
         else if (t == "followers")
           c.leader_recovery = Config::LeaderRecovery::kFollowers;
         else
           return std::string("expected auto, fresh or followers");
         return std::nullopt;
       }},
      {"recovery-wait", Duration(ms(0), ms(3600000), &Config::recovery_wait)},
      {"drain-delay", Duration(ms(0), ms(600000), &Config::drain_delay)},
      {"auth-reads",
       [](const std::string& t, Config& c) -> Reason {
         if (t == "open")
           c.auth_reads_need_token = false;
         else if (t == "token")
           c.auth_reads_need_token = true;
         else
           return std::string("expected open or token");
         return std::nullopt;
       }},
      {"tls-cert", Text(&Config::tls_cert, false)},
      {"tls-key", Text(&Config::tls_key, false)},
      {"tls-ca", Text(&Config::tls_ca, false)},
      {"tls-verify-hostname",
       [](const std::string& t, Config& c) -> Reason {
         auto parsed = ParseBool(t);
         if (auto* e = ErrorOf(parsed)) return *e;
         c.tls_verify_hostname = std::get<bool>(parsed);
         return std::nullopt;
       }},
      {"health-port",
       Count(0, 65535, [](Config& c, auto v) { c.health_port = int(v); })},
      {"log-level",
       [](const std::string& t, Config& c) -> Reason {
         auto level = LogLevelFromName(t);
         if (!level) return std::string("expected info, warning or error");
         c.log_level = *level;
         return std::nullopt;
       }},
      {"log-format",
       [](const std::string& t, Config& c) -> Reason {
         auto format = LogFormatFromName(t);
         if (!format) return std::string("expected text or json");
         c.log_format = *format;
         return std::nullopt;
       }},
      {"access-log",
       [](const std::string& t, Config& c) -> Reason {
         auto parsed = ParseBool(t);
         if (auto* e = ErrorOf(parsed)) return *e;
         c.access_log = std::get<bool>(parsed);
         return std::nullopt;
       }},
  };
  return checkers;
}

std::string Where(const std::string& name, const Sources& sources) {
  if (sources.flags.count(name)) return "--" + name;
  std::string env = "MEHDB_";
  for (char ch : name)
    env += ch == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(ch)));
  if (sources.env.count(name)) return env + " (--" + name + ")";
  if (!sources.file.empty()) {
    return "'" + name + "' in " + sources.file + " (--" + name + ")";
  }
  return "--" + name;
}

// The files are read now, so a typo or a mismatched pair stops the daemon
// at start with exit 2 instead of failing every connection later.
std::optional<std::string> CheckTls(const Sources& sources,
                                    const Config& config) {
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return std::string("--tls-cert and --tls-key go together (") +
           (config.tls_cert.empty() ? "--tls-key" : "--tls-cert") +
           " was given alone)";
  }
  if (!config.tls_cert.empty()) {
    std::string error;
    if (!tls::LoadServerContext(config.tls_cert, config.tls_key, error)) {
      return "bad TLS pair " + Where("tls-cert", sources) + "/" +
             Where("tls-key", sources) + ": " + error;
    }
  }
  if (!config.tls_ca.empty()) {
    if (auto error = tls::CheckCaFile(config.tls_ca)) {
      return "bad value for " + Where("tls-ca", sources) + ": '" +
             config.tls_ca + "': " + *error;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> ApplyValues(
    const std::map<std::string, std::string>& values, const Sources& sources,
    Config& config) {
  const auto& checkers = Checkers();
  for (const auto& [name, text] : values) {
    auto it = checkers.find(name);
    if (it == checkers.end()) continue;  // help/version: handled earlier
    if (Reason reason = it->second(text, config)) {
      return "bad value for " + Where(name, sources) + ": '" + text +
             "': " + *reason;
    }
  }
  if (config.store.max_map_bytes < config.store.map_bytes) {
    return "--map-size (" + std::to_string(config.store.map_bytes) +
           " bytes) is larger than --max-map-size (" +
           std::to_string(config.store.max_map_bytes) + " bytes)";
  }
  if (config.auth_reads_need_token && config.auth_token_file.empty()) {
    return "--auth-reads=token needs --auth-token-file (the token to "
           "check reads against)";
  }
  if (auto error = CheckTls(sources, config)) return error;
  if ((config.restore_force || config.restore_only) && config.restore_from.empty()) {
    return std::string(config.restore_force ? "--restore-force" : "--restore-only") +
           " needs --restore-from (the backup file to restore)";
  }
  if (config.health_port != 0 && (config.health_port == config.port ||
                                  config.health_port == config.peer_port)) {
    return "--health-port (" + std::to_string(config.health_port) +
           ") must differ from --port and --peer-port";
  }
  // Every pool thread may hold an LMDB reader slot, plus the backup and
  // metrics readers; leave generous headroom.
  config.store.max_readers =
      std::max<unsigned>(config.store.max_readers, config.threads + 64);
  return std::nullopt;
}

}  // namespace mehdbd

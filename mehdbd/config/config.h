// SPDX-License-Identifier: MIT
//
// The daemon's configuration: every option is a long flag, an environment
// variable MEHDB_<UPPER_SNAKE_NAME> and a key in an INI-style config file
// (`name = value`, given by --config / MEHDB_CONFIG), in that order of
// priority, then the built-in default. The original mehdb's variables
// (MEHDB_HOST, MEHDB_PORT, MEHDB_DATADIR, MEHDB_NAMESPACE, MEHDB_LOCAL) mean
// what they meant.
//
// Environment variables that start with MEHDB_ but name no option are
// ignored: pods collect MEHDB_* variables from many places. In particular a
// Kubernetes Service called "mehdb" injects MEHDB_PORT=tcp://<ip>:<port>
// ("service links"); such a value is not a port and is ignored with a log
// line instead of stopping the daemon.
#ifndef MEHDBD_CONFIG_CONFIG_H_
#define MEHDBD_CONFIG_CONFIG_H_

#include <mehdb/options.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/key_rule.h"
#include "base/log.h"

namespace mehdbd {

struct Config {
  // Identity and role (see identity.h).
  std::string host;  // empty = this machine's hostname
  std::string ns = "default";
  std::string service = "mehdb";
  std::string cluster_domain = "cluster.local";
  std::string leader_url;  // empty = derived from the host name
  std::string local;       // non-empty = follower of http://localhost:9999
  // KUBERNETES_SERVICE_HOST is set, as the kubelet does in every pod: only
  // then (or with --host) does the host name's ordinal pick the role.
  bool in_kubernetes = false;

  // Listening.
  std::string bind = "0.0.0.0";
  int port = 9876;

  // Storage.
  std::string datadir = "./data";
  mehdb::Options store;  // durability, map sizes, value limit, log retention

  // HTTP behaviour.
  KeyRule key_rule = KeyRule::kExtended;
  unsigned threads = 64;
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  std::chrono::milliseconds idle_timeout{5000};
  unsigned keep_alive_requests = 100;
  std::size_t max_connections = 10000;
  std::size_t max_buffered_bodies = std::size_t{256} << 20;
  unsigned event_loops = 0;  // 0: one per core, at most 4
  std::chrono::milliseconds max_seq_wait{1000};
  bool access_log = false;

  // Diagnostics (log.h).
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;

  // Peer sync (replication/).
  int peer_port = 9877;
  std::string leader_peer_url;  // empty = leader_url with peer_port
  std::chrono::milliseconds poll_wait{5000};
  std::uint64_t peer_batch_bytes = std::uint64_t{4} << 20;
  std::uint64_t max_lag_records = 1000;
  std::chrono::milliseconds max_staleness{300000};
  bool resnapshot_on_mismatch = false;
  std::chrono::milliseconds max_ack_wait{10000};
  std::chrono::milliseconds forget_followers_after{60000};
  // A leader starting on an empty store (replication/leader_recovery.h):
  // kAuto waits up to recovery_wait for a follower holding data and loads
  // it, else starts a new history; kFresh starts one at once; kFollowers
  // waits for a follower however long it takes.
  enum class LeaderRecovery { kAuto, kFresh, kFollowers };
  LeaderRecovery leader_recovery = LeaderRecovery::kAuto;
  std::chrono::milliseconds recovery_wait{10000};

  // Graceful shutdown: after SIGTERM, /readyz fails and requests are still
  // served for this long (Endpoints propagation) before listeners close.
  std::chrono::milliseconds drain_delay{5000};

  // Start-up restore (restore.h): empty = none.
  std::string restore_from;
  bool restore_force = false;
  bool restore_only = false;

  // Authentication (auth/authenticator.h): empty = none.
  std::string auth_token_file;
  bool auth_reads_need_token = false;  // --auth-reads=token
  // TLS (tls/). A certificate and key (PEM) turn TLS on for the client and
  // peer listeners; a follower then reaches its leader over https://,
  // trusting tls_ca (empty: the system's store).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool tls_verify_hostname = true;
  int health_port = 0;  // plain /healthz, /readyz, /metrics; 0 = off
  bool Tls() const { return !tls_cert.empty(); }

  std::string config_file;  // where file settings came from, if anywhere
};

// What ParseConfig decided.
struct ConfigOutcome {
  enum class Action {
    kRun,      // start the daemon with `config`
    kHelp,     // print `text` to stdout, exit 0
    kVersion,  // print `text` to stdout, exit 0
    kError,    // print `text` (one line) to stderr, exit 2
  };
  Action action = Action::kRun;
  Config config;
  std::string text;
  // Things worth a log line once logging is up (an ignored service-link
  // MEHDB_PORT, for example).
  std::vector<std::string> notes;
};

// Parses the command line (argv[0] is the program name), the environment
// (entries "NAME=value", normally from `environ`) and the config file.
// Never throws and never exits: main() acts on the outcome.
ConfigOutcome ParseConfig(int argc, const char* const* argv,
                          const std::vector<std::string>& environment);

// The environment of this process as "NAME=value" strings.
std::vector<std::string> ProcessEnvironment();

}  // namespace mehdbd

#endif  // MEHDBD_CONFIG_CONFIG_H_

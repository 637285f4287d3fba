// SPDX-License-Identifier: MIT
//
// mehdbd's start-up and shutdown sequence. Exit codes: 0 after a clean
// shutdown (SIGTERM or SIGINT; SIGHUP reloads, see reload.h) or for
// --help/--version; 2 for a bad option (one line on stderr naming it) or a
// store another process holds (one line naming its pid); 1 when the daemon
// cannot start (data directory, store or listening socket).
//
// Signals are taken synchronously by one thread with sigwait(): they are
// blocked before any other thread exists, so no handler ever runs inside the
// HTTP or store code, and shutdown is ordinary code: stop accepting, let the
// in-flight requests finish, close the store, exit 0. First, /readyz fails
// at once and requests are still served for --drain-delay (Endpoints drop
// the pod meanwhile); a pod's grace period must cover that delay plus the
// longest request in flight (connections between requests close at once,
// parked long-polls are answered at once).
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <mehdb/version.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "config/config.h"
#include "auth/authenticator.h"
#include "http/server.h"
#include "config/identity.h"
#include "store/legacy_import.h"
#include "base/log.h"
#include "config/reload.h"
#include "replication/follower.h"
#include "replication/leader_recovery.h"
#include "replication/peer_server.h"
#include "store/restore.h"
#include "store/store_handle.h"
#include "base/token_file.h"
#include "tls/server_context.h"

namespace {

using mehdbd::LogError;
using mehdbd::LogInfo;
using mehdbd::LogWarning;

std::string Describe(const mehdbd::Identity& id) {
  std::string s =
      "host " + id.host + ", role " + std::string(mehdbd::RoleName(id.role));
  if (id.role == mehdbd::Role::kFollower) s += ", leader " + id.leader_url;
  return s;
}

// The leader's peer URL: --leader-peer-url, or the leader URL with the
// peer port in place of its client port (and https:// when TLS is on: a
// TLS leader's peer port speaks nothing else).
std::string LeaderPeerUrl(const mehdbd::Config& config,
                          const mehdbd::Identity& identity) {
  if (!config.leader_peer_url.empty()) return config.leader_peer_url;
  std::string url = identity.leader_url;
  if (config.Tls() && url.rfind("http://", 0) == 0) {
    url.replace(0, 4, "https");
  }
  const auto scheme = url.find("://");
  const auto colon = url.rfind(':');
  if (colon != std::string::npos && colon > scheme + 2) url.erase(colon);
  return url + ":" + std::to_string(config.peer_port);
}

// Where a leader reaches this follower's peer port (to recover from an
// empty volume, replication/leader_recovery.h), given the port it got: the
// bound address when it is a specific one (pods on one host, as the tests
// run them); else the leader's name with this pod's name in place of the
// leader's (mehdb-0.mehdb.ns.svc... -> mehdb-1.mehdb.ns.svc..., the
// StatefulSet's DNS); else, beside a leader on localhost, localhost; else
// this host's name.
std::string AdvertisedPeerUrl(const mehdbd::Config& config, const mehdbd::Identity& identity,
                              int port) {
  const std::string leader = LeaderPeerUrl(config, identity);
  const auto scheme_end = leader.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "http" : leader.substr(0, scheme_end);
  std::string host;
  if (config.bind != "0.0.0.0" && config.bind != "::" && !config.bind.empty()) {
    host = config.bind.find(':') != std::string::npos ? "[" + config.bind + "]" : config.bind;
  } else if (scheme_end != std::string::npos) {
    const std::string rest = leader.substr(scheme_end + 3);
    const std::string leader_host = rest.substr(0, rest.rfind(':'));
    const std::string first = leader_host.substr(0, leader_host.find('.'));
    const std::string own = identity.host.substr(0, identity.host.find('.'));
    if (!identity.set.empty() && first == identity.set + "-0")
      host = own + leader_host.substr(first.size());
    else if (leader_host == "localhost" || leader_host.rfind("127.", 0) == 0)
      host = leader_host;
  }
  if (host.empty()) host = identity.host;
  return scheme + "://" + host + ":" + std::to_string(port);
}

// A follower on the same host as its leader and the other daemons (the
// local walkthrough, a development box): the configured peer port is the
// leader's, so the follower takes any free one. Pods, and the tests that
// give each pod an address of its own, keep --peer-port.
bool SharesHostWithLeader(const mehdbd::Config& config, const mehdbd::Identity& identity) {
  if (!config.local.empty()) return true;
  if (config.bind == "127.0.0.1" || config.bind == "localhost" || config.bind == "::1") return true;
  const std::string& url = identity.leader_url;
  const auto at = url.find("://");
  if (at == std::string::npos) return false;
  const std::string host = url.substr(at + 3, url.find_first_of(":/", at + 3) - at - 3);
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

mehdbd::replication::FollowerOptions FollowerOptionsFrom(
    const mehdbd::Config& config, const mehdbd::Identity& identity) {
  mehdbd::replication::FollowerOptions o;
  o.leader_peer_url = LeaderPeerUrl(config, identity);
  o.leader_url = identity.leader_url;  // for a mehdb 0.6 leader (no peer port)
  o.name = identity.host;
  o.poll_wait = config.poll_wait;
  o.max_batch_bytes = config.peer_batch_bytes;
  o.resnapshot_on_mismatch = config.resnapshot_on_mismatch;
  o.max_lag_records = config.max_lag_records;
  o.max_staleness = config.max_staleness;
  o.tls = {config.tls_ca, config.tls_verify_hostname};
  return o;
}

// `on_hangup` runs on SIGHUP (reload.h).
int Serve(const mehdbd::Config& config,
          const std::function<void()>& on_hangup) {
  const mehdbd::Identity identity = mehdbd::DeriveIdentity(config);

  // Authentication: the same token guards this pod's listeners and is sent
  // to the leader. The config checks read it already; reading it again
  // here can only fail if the file changed in between (still exit 2).
  std::unique_ptr<mehdbd::TokenFile> token;
  std::unique_ptr<mehdbd::auth::Authenticator> auth;
  if (!config.auth_token_file.empty()) {
    std::string error;
    token = mehdbd::TokenFile::Open(config.auth_token_file, error);
    if (!token) {
      std::cerr << "mehdbd: bad value for --auth-token-file: " << error << "\n";
      return 2;
    }
    auth = std::make_unique<mehdbd::auth::Authenticator>(
        *token, config.auth_reads_need_token ? mehdbd::auth::ReadPolicy::kToken
                                             : mehdbd::auth::ReadPolicy::kOpen);
  }

  std::error_code ec;
  std::filesystem::create_directories(config.datadir, ec);
  if (ec) {
    LogError("cannot create data directory " + config.datadir + ": " +
             ec.message());
    return 1;
  }
  // A volume of the original mehdb 0.6 becomes a store first (legacy_import.h).
  if (auto imported = mehdbd::ImportLegacyLayout(config.datadir, config.store);
      !imported.ok()) {
    LogError("cannot import mehdb 0.6's data in " + config.datadir + ": " +
             imported.ToString());
    return 1;
  }
  auto stores = mehdbd::StoreHandle::Open(config.datadir, config.store);
  if (!stores.ok()) {
    LogError("cannot open the store in " + config.datadir + ": " +
             stores.status().ToString());
    // Another process holds the store (see mehdb.lock): like a bad option,
    // retrying will not help until the operator stops one of them.
    return stores.status().code() == mehdb::Code::kUnavailable ? 2 : 1;
  }
  if (!config.restore_from.empty()) {
    auto restored = mehdbd::RestoreBackup(**stores, config.restore_from,
                                          config.restore_force);
    if (!restored.ok()) {
      LogError("--restore-from: " + restored.status().message());
      return 1;
    }
    LogInfo(*restored);
    if (config.restore_only) return 0;
  }

  std::string error;
  std::shared_ptr<mehdbd::tls::TlsServerContext> tls;
  if (config.Tls()) {
    tls = mehdbd::tls::TlsServerContext::Create(config.tls_cert,
                                                config.tls_key, error);
    if (!tls) {  // checked at start-up; the files changed since
      LogError("TLS: " + error);
      return 1;
    }
  }
  auto options = mehdbd::http::ServerOptions::FromConfig(config);
  options.tls = tls;
  auto server =
      std::make_unique<mehdbd::http::Server>(**stores, identity, options);
  server->api().SetAuth(auth.get());
  // Every listener, for the start-up line.
  const std::string scheme = tls ? "https://" : "http://";
  std::string listeners;
  const int api_port = server->Bind(config.bind, config.port, error);
  if (api_port < 0) {
    LogError(error);
    return 1;
  }
  listeners += "api " + scheme + config.bind + ":" + std::to_string(api_port);
  if (config.health_port != 0) {
    const int health_port =
        server->BindHealth(config.bind, config.health_port, error);
    if (health_port < 0) {
      LogError(error);
      return 1;
    }
    listeners += ", health http://" + config.bind + ":" +
                 std::to_string(health_port);
  }
  // Peer sync: a leader serves its log on the peer port; a follower pulls
  // its leader's.
  mehdbd::replication::AckTable acks(config.forget_followers_after);
  std::unique_ptr<mehdbd::replication::PeerServer> peers;
  std::unique_ptr<mehdbd::replication::Follower> follower;
  std::unique_ptr<mehdbd::replication::LeaderRecovery> recovery;
  if (identity.role == mehdbd::Role::kFollower) {
    auto options = FollowerOptionsFrom(config, identity);
    options.token = token.get();
    // A follower's peer port serves only its snapshot, for a leader that
    // lost its volume. Any free port does when the configured one is taken
    // or is the leader's: the follower tells the leader where it is.
    mehdbd::replication::PeerServerOptions peer_options;
    peer_options.tls = tls;
    peer_options.serve_log = false;
    peer_options.threads = 2;
    peers = std::make_unique<mehdbd::replication::PeerServer>(**stores, acks, peer_options);
    peers->SetAuth(auth.get());
    int peer_port = SharesHostWithLeader(config, identity)
                        ? -1
                        : peers->Bind(config.bind, config.peer_port, error);
    if (peer_port < 0) peer_port = peers->Bind(config.bind, 0, error);
    if (peer_port < 0) {
      LogWarning(error + "; a leader that loses its volume cannot recover from this follower");
      peers.reset();
    } else {
      options.advertise_peer_url = AdvertisedPeerUrl(config, identity, peer_port);
      listeners += ", peer (snapshots) " + options.advertise_peer_url;
    }
    follower = std::make_unique<mehdbd::replication::Follower>(
        **stores, std::move(options));
    server->api().SetReplication(follower.get(), nullptr);
  } else {
    mehdbd::replication::PeerServerOptions peer_options;
    peer_options.tls = tls;
    peers = std::make_unique<mehdbd::replication::PeerServer>(
        **stores, acks, peer_options);
    peers->SetAuth(auth.get());
    if (identity.role == mehdbd::Role::kLeader) {
      mehdbd::replication::LeaderRecoveryOptions recovery_options;
      recovery_options.mode = config.leader_recovery;
      recovery_options.wait = config.recovery_wait;
      recovery_options.name = identity.host;
      recovery_options.tls = {config.tls_ca, config.tls_verify_hostname};
      recovery_options.token = token.get();
      recovery = std::make_unique<mehdbd::replication::LeaderRecovery>(
          **stores, std::move(recovery_options));
      peers->SetRecovery(recovery.get());
      server->api().SetRecovery(recovery.get());
    }
    const int peer_port = peers->Bind(config.bind, config.peer_port, error);
    if (peer_port < 0) {
      LogError(error);
      return 1;
    }
    listeners += ", peer " + scheme + config.bind + ":" + std::to_string(peer_port);
    server->api().SetReplication(nullptr, &acks);
  }
  LogInfo(std::string("mehdbd ") + MEHDB_VERSION + " serving " +
          config.datadir + " (" + Describe(identity) + "); listening: " +
          listeners +
          (auth ? std::string("; bearer token required for writes") +
                      (config.auth_reads_need_token ? " and reads" : "")
                : std::string()));

  // The signal thread: SIGTERM/SIGINT start the graceful shutdown; SIGHUP
  // reloads what can be reloaded and is never fatal.
  std::atomic<bool> exiting{false};
  std::thread signals([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      if (exiting.load()) return;  // woken by main to finish
      if (sig == SIGHUP) {
        on_hangup();
        continue;
      }
      // Not ready at once, yet serving for the drain delay: Endpoints
      // take a moment to drop this pod, and clients sent here meanwhile
      // must still be answered. Another SIGTERM/SIGINT cuts the delay.
      const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
      server->api().SetDraining();
      if (config.drain_delay.count() > 0) {
        LogInfo(std::string("received ") + name + ": not ready; serving " +
                std::to_string(config.drain_delay.count()) +
                " ms more (--drain-delay) before finishing in-flight requests");
        timespec delay{};
        delay.tv_sec = static_cast<time_t>(config.drain_delay.count() / 1000);
        delay.tv_nsec = static_cast<long>(config.drain_delay.count() % 1000 * 1000000);
        siginfo_t info{};
        int got;
        while ((got = sigtimedwait(&set, &info, &delay)) == SIGHUP) on_hangup();
        if (exiting.load()) return;
        if (got > 0) LogInfo("second signal: ending the drain delay");
      } else {
        LogInfo(std::string("received ") + name + ": finishing in-flight requests");
      }
      server->Stop();
      return;
    }
  });
  ::pthread_setname_np(signals.native_handle(), "mehdbd-signals");

  if (peers) peers->Start();
  if (recovery) recovery->Start();
  if (follower) follower->Start();
  const bool ran = server->Run();
  if (recovery) recovery->Stop();
  if (follower) follower->Stop();
  if (peers) peers->Stop();
  exiting.store(true);
  pthread_kill(signals.native_handle(), SIGTERM);  // no-op if it has returned
  signals.join();

  server.reset();  // every handler has returned: the store has no users left
  follower.reset();
  peers.reset();
  recovery.reset();
  stores->reset();
  if (!ran) {
    LogError("the HTTP server stopped unexpectedly");
    return 1;
  }
  LogInfo("stopped cleanly");
  return 0;
}

// Each client connection is a descriptor, also while it waits idle; under
// the usual soft limit of 1024 --max-connections (10,000) could never be
// reached: accepts would fail with EMFILE (the front end backs off and
// retries) long before it, with the store's files and peers' sockets too.
// The hard limit is what the administrator allows, so take all of it.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
    LogWarning("cannot raise the open-file limit; many clients may be refused");
}

}  // namespace

int main(int argc, char** argv) {
  const mehdbd::ConfigOutcome outcome =
      mehdbd::ParseConfig(argc, argv, mehdbd::ProcessEnvironment());
  switch (outcome.action) {
    case mehdbd::ConfigOutcome::Action::kHelp:
    case mehdbd::ConfigOutcome::Action::kVersion:
      std::cout << outcome.text;
      return 0;
    case mehdbd::ConfigOutcome::Action::kError:
      std::cerr << outcome.text << "\n";
      return 2;
    case mehdbd::ConfigOutcome::Action::kRun:
      break;
  }
  // Block the shutdown signals before any thread starts, so every thread
  // inherits the mask and only the signal thread receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  mehdbd::SetLogLevel(outcome.config.log_level);
  mehdbd::SetLogFormat(outcome.config.log_format);
  for (const std::string& note : outcome.notes) mehdbd::LogWarning(note);
  RaiseFileLimit();
  const std::vector<std::string> environment = mehdbd::ProcessEnvironment();
  return Serve(outcome.config, [&] {
    mehdbd::ReloadOnHangup(argc, argv, environment);
  });
}

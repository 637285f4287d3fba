// SPDX-License-Identifier: MIT
//
// Who this daemon is and whom it follows, decided once at start-up from the
// host name the way a StatefulSet names its pods: "<set>-<ordinal>". The
// host name is --host (MEHDB_HOST; the kit sets it from the pod's name), or
// else this machine's name -- which counts only inside a Kubernetes pod
// (KUBERNETES_SERVICE_HOST set): elsewhere a machine named "buildbox-2" is
// standalone, so the quick start never turns into a follower by accident.
//
//   ordinal 0            -> leader (takes writes)
//   ordinal N > 0        -> follower of
//                           http://<set>-0.<service>.<namespace>.svc.<domain>:<port>
//                           (https:// with --tls-cert)
//   no ordinal           -> standalone (a leader with no followers)
//   --leader-url URL     -> any instance except ordinal 0 follows URL
//   --local / MEHDB_LOCAL non-empty -> follower of http://localhost:9999
//                           (the original's local-development mode)
//
// The original built the leader address as mehdb-0.<namespace>:<port>, which
// resolves only when the namespace is named like the Service, and treated
// every host other than mehdb-0 as a follower; both are fixed here.
#ifndef MEHDBD_CONFIG_IDENTITY_H_
#define MEHDBD_CONFIG_IDENTITY_H_

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace mehdbd {

enum class Role { kLeader, kFollower, kStandalone };

struct Identity {
  Role role = Role::kStandalone;
  std::string host;  // as configured or from gethostname()
  std::string set;   // "<set>" of "<set>-<ordinal>"; empty if none
  std::optional<unsigned long> ordinal;
  std::string leader_url;  // followers only: base URL, no trailing '/'

  // What GET /status answers: "follower" for followers, else "leader"
  // (a standalone instance takes writes, so to a client it is a leader).
  std::string_view StatusWord() const {
    return role == Role::kFollower ? "follower" : "leader";
  }
};

std::string_view RoleName(Role role);

// Splits "<set>-<ordinal>" (only the first DNS label of `host` counts).
// nullopt when there is no numeric suffix after the last '-'.
struct SetOrdinal {
  std::string set;
  unsigned long ordinal = 0;
};
std::optional<SetOrdinal> SplitHostName(std::string_view host);

// This machine's host name ("localhost" if it cannot be read).
std::string MachineHostName();

// Decides the identity from the configuration. `host` empty in `config`
// means `machine_host`, this machine's host name.
Identity DeriveIdentity(const Config& config,
                        const std::string& machine_host = MachineHostName());

}  // namespace mehdbd

#endif  // MEHDBD_CONFIG_IDENTITY_H_

// SPDX-License-Identifier: MIT
//
// Implementation of identity.h.
#include "config/identity.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace mehdbd {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kLeader:
      return "leader";
    case Role::kFollower:
      return "follower";
    case Role::kStandalone:
      return "standalone";
  }
  return "?";
}

std::optional<SetOrdinal> SplitHostName(std::string_view host) {
  host = host.substr(0, host.find('.'));  // a FQDN's first label is the pod
  const auto dash = host.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == host.size()) {
    return std::nullopt;
  }
  const std::string_view digits = host.substr(dash + 1);
  if (digits.size() > 9) return std::nullopt;  // no StatefulSet is that big
  unsigned long ordinal = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    ordinal = ordinal * 10 + static_cast<unsigned long>(c - '0');
  }
  return SetOrdinal{std::string(host.substr(0, dash)), ordinal};
}

std::string MachineHostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') {
    return "localhost";
  }
  return buf;
}

Identity DeriveIdentity(const Config& config, const std::string& machine_host) {
  Identity id;
  id.host = config.host.empty() ? machine_host : config.host;
  // A machine's own name counts as a pod name only in a pod: outside
  // Kubernetes "buildbox-2" is just a name, not the third pod of a set.
  const bool pod_name = !config.host.empty() || config.in_kubernetes;
  if (auto parts = SplitHostName(id.host); parts && pod_name) {
    id.set = parts->set;
    id.ordinal = parts->ordinal;
  }
  if (!config.local.empty()) {
    // The original's rule, kept verbatim for local development; an explicit
    // --leader-url still wins.
    id.role = Role::kFollower;
    id.leader_url =
        config.leader_url.empty() ? "http://localhost:9999" : config.leader_url;
    return id;
  }
  if (id.ordinal == 0ul) {
    id.role = Role::kLeader;
    return id;
  }
  if (!config.leader_url.empty()) {
    id.role = Role::kFollower;
    id.leader_url = config.leader_url;
    return id;
  }
  if (!id.ordinal) {
    id.role = Role::kStandalone;
    return id;
  }
  id.role = Role::kFollower;
  // Every pod of a set shares its flags: with TLS on here, the leader's
  // client port speaks TLS too.
  id.leader_url = (config.Tls() ? "https://" : "http://") + id.set + "-0." + config.service + "." +
                  config.ns + ".svc." + config.cluster_domain + ":" +
                  std::to_string(config.port);
  return id;
}

}  // namespace mehdbd

// SPDX-License-Identifier: MIT
//
// What SIGHUP does: the configuration (flags, MEHDB_* environment, --config
// file) is parsed again and what can change in a running daemon is applied:
// the log level and format. The bearer-token file and the TLS certificate
// need no signal: they are looked at as requests arrive and reloaded when
// they change. Anything else takes a restart. A configuration that no
// longer parses is logged and the running one kept: SIGHUP is never fatal.
#ifndef MEHDBD_CONFIG_RELOAD_H_
#define MEHDBD_CONFIG_RELOAD_H_

#include <string>
#include <vector>

namespace mehdbd {

// Re-reads the configuration from `argv` and `environment` (as at start)
// and applies the log settings. Logs one line saying what it did.
void ReloadOnHangup(int argc, const char* const* argv,
                    const std::vector<std::string>& environment);

}  // namespace mehdbd

#endif  // MEHDBD_CONFIG_RELOAD_H_

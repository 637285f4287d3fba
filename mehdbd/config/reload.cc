// SPDX-License-Identifier: MIT
//
// Implementation of reload.h.
#include "config/reload.h"

#include "config/config.h"
#include "base/log.h"

namespace mehdbd {

void ReloadOnHangup(int argc, const char* const* argv,
                    const std::vector<std::string>& environment) {
  const ConfigOutcome outcome = ParseConfig(argc, argv, environment);
  if (outcome.action != ConfigOutcome::Action::kRun) {
    LogWarning("SIGHUP: the configuration does not parse, keeping the running "
               "one: " + outcome.text);
    return;
  }
  const Config& config = outcome.config;
  // The line goes out at warning level, so it shows even when the new
  // level is warning: whoever sent the signal sees that it was taken.
  SetLogFormat(config.log_format);
  LogWarning("SIGHUP: log level " + std::string(LogLevelName(config.log_level)) +
             ", log format " + std::string(LogFormatName(config.log_format)) +
             " (the token file and TLS files reload by themselves when they "
             "change; other options take a restart)");
  SetLogLevel(config.log_level);
}

}  // namespace mehdbd

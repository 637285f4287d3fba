// SPDX-License-Identifier: MIT
//
// Fuzz target: the daemon's configuration (mehdbd::ParseConfig): command
// line, environment and config file together. Properties: it never throws,
// aborts or exits (it is documented to return every outcome); an error is
// one line starting "mehdbd: "; a configuration it accepts has its ports and
// thread count inside the documented ranges and a max map size no smaller
// than the initial one.
//
// Input: a selector byte, then three sections separated by NUL bytes: the
// arguments (one per line), the environment ("NAME=value" per line) and the
// config file's contents. When the third section is present it is written
// to a temp file named by --config (selector bit 0 clear) or MEHDB_CONFIG
// (bit 0 set). Arguments may name other files too; ParseConfig reads only
// small regular files, so no path can make it hang.
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "fuzz_support.h"

namespace {

std::vector<std::string> Lines(std::string_view section) {
  std::vector<std::string> lines;
  while (!section.empty()) {
    const std::size_t nl = section.find('\n');
    lines.emplace_back(section.substr(0, nl));
    section.remove_prefix(nl == std::string_view::npos ? section.size()
                                                       : nl + 1);
  }
  return lines;
}

void CheckOutcome(const mehdbd::ConfigOutcome& out) {
  using Action = mehdbd::ConfigOutcome::Action;
  switch (out.action) {
    case Action::kError:
      if (!out.text.starts_with("mehdbd: "))
        mehdb_fuzz::Fail("an error does not start with 'mehdbd: ': " +
                         out.text);
      if (out.text.find('\n') != std::string::npos)
        mehdb_fuzz::Fail("an error is more than one line: " + out.text);
      return;
    case Action::kHelp:
    case Action::kVersion:
      if (out.text.empty()) mehdb_fuzz::Fail("empty help or version text");
      return;
    case Action::kRun:
      break;
  }
  const mehdbd::Config& c = out.config;
  if (c.port < 1 || c.port > 65535 || c.peer_port < 1 || c.peer_port > 65535)
    mehdb_fuzz::Fail("an accepted port is out of range");
  if (c.threads < 1 || c.threads > 4096)
    mehdb_fuzz::Fail("an accepted thread count is out of range");
  if (c.store.max_map_bytes < c.store.map_bytes)
    mehdb_fuzz::Fail("the map ceiling is below the initial map size");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  mehdb_fuzz::InputReader input(data, size);
  const std::uint8_t selector = input.Byte();
  const std::string_view rest = input.Rest();
  const std::size_t first_nul = rest.find('\0');
  const bool has_file = first_nul != std::string_view::npos &&
                        rest.find('\0', first_nul + 1) != std::string_view::npos;
  std::vector<std::string> args = Lines(input.Until('\0'));
  std::vector<std::string> env = Lines(input.Until('\0'));
  std::string file;
  if (has_file) {
    file = mehdb_fuzz::FreshPath("config");
    const std::string_view contents = input.Rest();
    std::ofstream(file, std::ios::binary)
        .write(contents.data(), static_cast<std::streamsize>(contents.size()));
    if (selector & 1)
      env.push_back("MEHDB_CONFIG=" + file);
    else
      args.push_back("--config=" + file);
  }
  std::vector<const char*> argv = {"mehdbd"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  const mehdbd::ConfigOutcome out =
      mehdbd::ParseConfig(static_cast<int>(argv.size() - 1), argv.data(), env);
  CheckOutcome(out);
  if (has_file) mehdb_fuzz::RemoveTree(file);
  return 0;
}

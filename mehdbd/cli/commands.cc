// SPDX-License-Identifier: MIT
//
// Implementation of commands.h.
#include "cli/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/progress.h"
#include "cli/transport.h"

namespace mehdb_cli {
namespace {

std::string Encode(const std::string& key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

int Usage(const std::string& text) {
  std::cerr << "mehdb: usage: mehdb " << text << "\n";
  return kError;
}

// Reports an answer we did not expect and picks the exit code.
int Fail(const std::string& what, const Reply& reply) {
  if (reply.status == 0) {
    std::cerr << "mehdb: " << what << ": " << reply.error << " (" << reply.url
              << ")\n";
    return kError;
  }
  std::string reason = reply.body.substr(0, reply.body.find('\n'));
  if (reason.size() > 200) reason.resize(200);
  std::cerr << "mehdb: " << what << ": HTTP " << reply.status
            << (reason.empty() ? "" : ": " + reason) << "\n";
  return reply.status == 404 ? kNotFound : kError;
}

bool WriteAll(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

int Get(const Endpoint& server, const Args& args) {
  std::string key, out_file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-o" || args[i] == "--output") && i + 1 < args.size()) {
      out_file = args[++i];
    } else if (key.empty()) {
      key = args[i];
    } else {
      return Usage("get KEY [-o FILE]");
    }
  }
  if (key.empty()) return Usage("get KEY [-o FILE]");
  int fd = STDOUT_FILENO;
  if (!out_file.empty()) {
    fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                0644);
    if (fd < 0) {
      std::cerr << "mehdb: cannot write " << out_file << ": "
                << std::strerror(errno) << "\n";
      return kError;
    }
  }
  Progress progress("get", !out_file.empty() && Progress::StderrIsTerminal());
  Exchange ex;
  ex.method = "GET";
  ex.path = "/get/" + Encode(key);
  ex.sink = [fd](const char* d, std::size_t n) { return WriteAll(fd, d, n); };
  ex.progress = &progress;
  const Reply reply = Perform(server, ex);
  if (fd != STDOUT_FILENO) ::close(fd);
  if (reply.status == 200) return kOk;
  if (reply.status == 404) {
    std::cerr << "mehdb: " << key << ": not found\n";
    return kNotFound;
  }
  return Fail("get " + key, reply);
}

int Put(const Endpoint& server, const Args& args) {
  const char* usage = "put KEY [VALUE | -f FILE | -]  (no value: read stdin)";
  if (args.empty() || args.size() > 3) return Usage(usage);
  const std::string& key = args[0];
  std::string text;
  Body body;
  int fd = -1;
  bool from_stdin = args.size() == 1 || (args.size() == 2 && args[1] == "-");
  if (args.size() == 3) {
    if (args[1] != "-f" && args[1] != "--file") return Usage(usage);
    fd = ::open(args[2].c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      std::cerr << "mehdb: cannot read " << args[2] << ": "
                << (fd < 0 ? std::strerror(errno) : "not a regular file")
                << "\n";
      if (fd >= 0) ::close(fd);
      return kError;
    }
    body.fd = fd;
    body.size = static_cast<std::uint64_t>(st.st_size);
  } else if (from_stdin) {
    text.assign(std::istreambuf_iterator<char>(std::cin),
                std::istreambuf_iterator<char>());
    body.text = &text;
  } else {
    text = args[1];
    body.text = &text;
  }
  Progress progress("put", fd >= 0 && Progress::StderrIsTerminal());
  Exchange ex;
  ex.method = "PUT";
  ex.path = "/set/" + Encode(key);
  ex.body = body;
  ex.progress = &progress;
  const Reply reply = Perform(server, ex);
  if (fd >= 0) ::close(fd);
  if (reply.status == 200) return kOk;
  return Fail("put " + key, reply);
}

int Delete(const Endpoint& server, const Args& args) {
  if (args.size() != 1) return Usage("delete KEY");
  Exchange ex;
  ex.method = "DELETE";
  ex.path = "/set/" + Encode(args[0]);
  const Reply reply = Perform(server, ex);
  if (reply.status == 204 || reply.status == 200) return kOk;
  if (reply.status == 404) {
    std::cerr << "mehdb: " << args[0] << ": not found\n";
    return kNotFound;
  }
  return Fail("delete " + args[0], reply);
}

int Keys(const Endpoint& server, const Args& args) {
  const char* usage = "keys [--prefix P] [--limit N]";
  std::string prefix;
  std::uint64_t limit = 0;  // 0: all
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--prefix" && i + 1 < args.size()) {
      prefix = args[++i];
    } else if (args[i] == "--limit" && i + 1 < args.size()) {
      try {
        limit = std::stoull(args[++i]);
      } catch (...) {
        return Usage(usage);
      }
    } else {
      return Usage(usage);
    }
  }
  // Page through the listing so memory stays small for any store size.
  constexpr std::uint64_t kPage = 1000;
  std::string after;
  std::uint64_t printed = 0;
  while (limit == 0 || printed < limit) {
    const std::uint64_t n =
        limit == 0 ? kPage : std::min(kPage, limit - printed);
    Exchange ex;
    ex.method = "GET";
    ex.path = "/keys?prefix=" + Encode(prefix) + "&after=" + Encode(after) +
              "&limit=" + std::to_string(n);
    const Reply reply = Perform(server, ex);
    if (reply.status != 200) return Fail("keys", reply);
    const auto page = nlohmann::json::parse(reply.body, nullptr, false);
    if (!page.is_array()) {
      std::cerr << "mehdb: keys: the server's answer is not a JSON array\n";
      return kError;
    }
    for (const auto& key : page) {
      if (!key.is_string()) continue;
      after = key.get<std::string>();
      std::cout << after << "\n";
      ++printed;
    }
    if (reply.headers.find("Link") == reply.headers.end() || page.empty())
      break;
  }
  std::cout.flush();
  return std::cout ? kOk : kError;
}

int Status(const Endpoint& server, const Args& args) {
  const bool full = args.size() == 1 && args[0] == "--full";
  if (!args.empty() && !full) return Usage("status [--full]");
  Exchange ex;
  ex.method = "GET";
  ex.path = full ? "/status?level=full" : "/status";
  const Reply reply = Perform(server, ex);
  if (reply.status != 200) return Fail("status", reply);
  std::cout << reply.body;
  if (reply.body.empty() || reply.body.back() != '\n') std::cout << "\n";
  return kOk;
}

int Backup(const Endpoint& server, const Args& args) {
  if (args.size() != 1) return Usage("backup FILE");
  // Written under a temporary name and renamed when complete, so FILE is
  // never a partial copy.
  const std::string file = args[0];
  const std::string temp = file + ".partial";
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << "mehdb: cannot write " << temp << ": " << std::strerror(errno)
              << "\n";
    return kError;
  }
  Progress progress("backup", Progress::StderrIsTerminal());
  std::uint64_t done = 0;
  std::uint64_t estimate = 0;
  Exchange ex;
  ex.method = "GET";
  ex.path = "/backup";
  ex.on_headers = [&](const httplib::Response& res) {
    estimate = res.get_header_value<std::uint64_t>("X-Mehdb-Size-Estimate");
  };
  ex.sink = [&](const char* d, std::size_t n) {
    done += n;
    progress.Update(done, estimate);
    return WriteAll(fd, d, n);
  };
  Reply reply = Perform(server, ex);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (reply.status != 200 || !synced) {
    ::unlink(temp.c_str());
    if (!synced && reply.status == 200) {
      std::cerr << "mehdb: backup: cannot sync " << temp << "\n";
      return kError;
    }
    return Fail("backup", reply);
  }
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    std::cerr << "mehdb: cannot rename " << temp << " to " << file << ": "
              << std::strerror(errno) << "\n";
    return kError;
  }
  std::cerr
      << "mehdb: backup written to " << file << " (" << done
      << " bytes; to restore it: mehdbd --datadir DIR --restore-from " << file
      << " (DIR empty, or add --restore-force))\n";
  return kOk;
}

}  // namespace mehdb_cli

// SPDX-License-Identifier: MIT
//
// Implementation of commands.h.
#include "cli/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <variant>

#include "base/base64.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "cli/transport.h"
#include "base/units.h"
#include "base/url_encoding.h"

namespace mehdb_cli {
namespace {

using mehdbd::PercentEncode;

using nlohmann::json;

bool Json(const Invocation& line) { return line.Value("write-out") == "json"; }

void PrintJson(const json& doc) {
  // Values that are not UTF-8 were put in value_base64 already; anything
  // else odd (a key from the server) is replaced rather than thrown over.
  std::cout << doc.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
}

int Usage(const Invocation& line, const std::string& message) {
  std::cerr << "mehdb: " << line.command->name << ": " << message
            << " (see mehdb " << line.command->name << " --help)\n";
  return kUsage;
}

// The value of a numeric option, checked: false (after a message) when it
// is not a whole number in [min, max].
bool NumberOption(const Invocation& line, const std::string& name,
                  std::uint64_t min, std::uint64_t max, std::uint64_t& out,
                  int& exit_code) {
  auto parsed = mehdbd::ParseCount(line.Value(name), min, max);
  if (const auto* n = std::get_if<std::uint64_t>(&parsed)) {
    out = *n;
    return true;
  }
  exit_code = Usage(line, "--" + name + " '" + line.Value(name) +
                              "': " + std::get<std::string>(parsed));
  return false;
}

bool DurationOption(const Invocation& line, const std::string& name,
                    std::string& out, int& exit_code) {
  auto parsed = mehdbd::ParseDuration(line.Value(name));
  if (std::holds_alternative<std::chrono::milliseconds>(parsed)) {
    out = std::to_string(std::get<std::chrono::milliseconds>(parsed).count()) +
          "ms";
    return true;
  }
  exit_code = Usage(line, "--" + name + " '" + line.Value(name) +
                              "': " + std::get<std::string>(parsed));
  return false;
}

std::string Header(const Reply& reply, const std::string& name) {
  auto it = reply.headers.find(name);
  return it == reply.headers.end() ? "" : it->second;
}

// A header holding a number (X-Mehdb-Seq, an ETag's "123"), as JSON: null
// when absent or not a number.
json NumberHeader(const Reply& reply, const std::string& name) {
  std::string text = Header(reply, name);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    text = text.substr(1, text.size() - 2);
  auto parsed = mehdbd::ParseCount(text, 0, UINT64_MAX);
  if (const auto* n = std::get_if<std::uint64_t>(&parsed)) return *n;
  return nullptr;
}

// mehdbd answers a missing key with 404 and an empty body ("\n", as the
// original did); any other 404 ("404 page not found") is a path the server
// does not have, i.e. a wrong --url, and must not read as "no such key".
bool IsMissingKey(const Reply& reply) {
  return reply.status == 404 && (reply.body.empty() || reply.body == "\n");
}

// Reports a failed exchange and picks the exit code.
int Fail(const std::string& what, const Reply& reply) {
  if (reply.status == 0) {
    std::cerr << "mehdb: " << what << ": " << reply.error << " (" << reply.url
              << ")\n";
    switch (reply.failure) {
      case Failure::kBadUrl: return kUsage;
      case Failure::kDns: return kDnsFailure;
      case Failure::kUnreachable: return kUnreachable;
      case Failure::kTls: return kTlsFailure;
      case Failure::kTimeout: return kTimedOut;
      case Failure::kNone:
      case Failure::kBroken: return kHttpError;
    }
    return kHttpError;
  }
  if (reply.status == 412) {
    std::cerr << "mehdb: " << what
              << ": the condition did not hold (HTTP 412: the key's version "
                 "differs, or it exists)\n";
    return kConditionFailed;
  }
  if (reply.status == 404) {
    std::cerr << "mehdb: " << what << ": HTTP 404 from " << reply.url
              << ": the server has no such path; is --url the daemon's base "
                 "URL (http://host:9876)?\n";
    return kHttpError;
  }
  std::string reason = reply.body.substr(0, reply.body.find('\n'));
  if (reason.size() > 200) reason.resize(200);
  std::cerr << "mehdb: " << what << ": HTTP " << reply.status
            << (reason.empty() ? "" : ": " + reason) << "\n";
  return kHttpError;
}

// A value as JSON: text when it is UTF-8, else base64 under another name.
void PutValue(json& doc, const std::string& value) {
  try {
    (void)json(value).dump();
    doc["value"] = value;
  } catch (const json::type_error&) {
    doc["value_base64"] = mehdbd::Base64Encode(value);
  }
}

std::string MinSeqQuery(const Invocation& line, int& exit_code, bool& ok) {
  ok = true;
  if (!line.Has("min-seq")) return "";
  std::uint64_t seq = 0;
  ok = NumberOption(line, "min-seq", 0, UINT64_MAX, seq, exit_code);
  return "min_seq=" + std::to_string(seq);
}

int Get(const Endpoint& server, const Invocation& line) {
  const std::string& key = line.operands[0];
  int code = kOk;
  bool ok = true;
  const std::string min_seq = MinSeqQuery(line, code, ok);
  if (!ok) return code;
  const std::string out_path = line.Value("output", "-");
  const bool json_out = Json(line);
  if (json_out && out_path == "-" && line.Has("output"))
    return Usage(line, "-w json prints the value in its JSON; -o - is not needed");

  std::unique_ptr<OutputFile> file;
  std::string value;  // -w json without a file keeps the value for the JSON
  if (!json_out || out_path != "-") {
    std::string error;
    file = OutputFile::Open(out_path, 0644, error);
    if (!file) {
      std::cerr << "mehdb: get " << key << ": " << error << "\n";
      return kLocalError;
    }
  }
  Progress progress("get", file && !file->IsStdout() &&
                               Progress::StderrIsTerminal());
  Exchange ex;
  ex.method = "GET";
  ex.path = "/get/" + PercentEncode(key) + (min_seq.empty() ? "" : "?" + min_seq);
  std::uint64_t bytes = 0;
  ex.sink = [&](const char* d, std::size_t n) {
    bytes += n;
    if (!file) {
      value.append(d, n);
      return true;
    }
    return file->Write(d, n);
  };
  ex.progress = &progress;
  const Reply reply = Perform(server, ex);
  if (reply.status != 200) {
    if (IsMissingKey(reply)) {
      std::cerr << "mehdb: " << key << ": not found\n";
      return kNotFound;
    }
    if (reply.sink_failed) {
      std::string error;
      file->Commit(error);  // fails with the write's reason
      std::cerr << "mehdb: get " << key << ": " << error << "\n";
      return kLocalError;
    }
    return Fail("get " + key, reply);
  }
  std::string error;
  if (file && !file->Commit(error)) {
    std::cerr << "mehdb: get " << key << ": " << error << "\n";
    return kLocalError;
  }
  if (json_out) {
    json doc = {{"key", key}};
    if (file) {
      doc["file"] = file->path();
      doc["bytes"] = bytes;
    } else {
      PutValue(doc, value);
    }
    doc["version"] = NumberHeader(reply, "ETag");
    doc["applied_seq"] = NumberHeader(reply, "X-Mehdb-Applied-Seq");
    PrintJson(doc);
  }
  std::cout.flush();
  return std::cout ? kOk : kLocalError;
}

int Put(const Endpoint& server, const Invocation& line) {
  const std::string& key = line.operands[0];
  const bool has_value = line.operands.size() == 2;
  if (has_value && line.Has("file"))
    return Usage(line, "give the value or --file, not both");
  if (line.Has("if-version") && line.Has("if-absent"))
    return Usage(line, "--if-version and --if-absent exclude each other");
  if (line.Has("ack-timeout") && !line.Has("acks"))
    return Usage(line, "--ack-timeout goes with --acks");

  int code = kOk;
  Exchange ex;
  ex.method = "PUT";
  ex.path = "/set/" + PercentEncode(key);
  if (line.Has("if-version")) {
    std::uint64_t version = 0;
    if (!NumberOption(line, "if-version", 1, UINT64_MAX, version, code))
      return code;
    ex.headers.emplace("If-Match", "\"" + std::to_string(version) + "\"");
  }
  if (line.Has("if-absent")) ex.headers.emplace("If-None-Match", "*");
  std::uint64_t acks = 0;
  if (line.Has("acks")) {
    if (!NumberOption(line, "acks", 0, 1000, acks, code)) return code;
    ex.path += "?acks=" + std::to_string(acks);
    if (line.Has("ack-timeout")) {
      std::string timeout;
      if (!DurationOption(line, "ack-timeout", timeout, code)) return code;
      ex.path += "&ack_timeout=" + timeout;
    }
  }

  std::string text;
  int fd = -1;
  const std::string source =
      line.Has("file") ? line.Value("file") : has_value ? "" : "-";
  if (has_value && line.operands[1] != "-") {
    text = line.operands[1];
    ex.body.text = &text;
  } else if (source == "-" || (has_value && line.operands[1] == "-")) {
    text.assign(std::istreambuf_iterator<char>(std::cin),
                std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
      std::cerr << "mehdb: put " << key << ": cannot read stdin\n";
      return kLocalError;
    }
    ex.body.text = &text;
  } else {
    fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      std::cerr << "mehdb: put " << key << ": cannot read " << source << ": "
                << (fd < 0 ? std::strerror(errno) : "not a regular file")
                << "\n";
      if (fd >= 0) ::close(fd);
      return kLocalError;
    }
    ex.body.fd = fd;
    ex.body.size = static_cast<std::uint64_t>(st.st_size);
  }
  Progress progress("put", fd >= 0 && Progress::StderrIsTerminal());
  ex.progress = &progress;
  const Reply reply = Perform(server, ex);
  if (fd >= 0) ::close(fd);
  if (reply.status != 200 && reply.status != 202)
    return Fail("put " + key, reply);
  if (Json(line)) {
    json doc = {{"key", key},
                {"seq", NumberHeader(reply, "X-Mehdb-Seq")},
                {"version", NumberHeader(reply, "ETag")}};
    if (line.Has("acks")) doc["acks"] = NumberHeader(reply, "X-Mehdb-Acks");
    PrintJson(doc);
  }
  if (reply.status == 202) {
    std::cerr << "mehdb: put " << key << ": stored, but only "
              << Header(reply, "X-Mehdb-Acks") << " of " << acks
              << " followers applied it in time\n";
    return kAcksShort;
  }
  return kOk;
}

int Delete(const Endpoint& server, const Invocation& line) {
  const std::string& key = line.operands[0];
  Exchange ex;
  ex.method = "DELETE";
  ex.path = "/set/" + PercentEncode(key);
  if (line.Has("if-version")) {
    std::uint64_t version = 0;
    int code = kOk;
    if (!NumberOption(line, "if-version", 1, UINT64_MAX, version, code))
      return code;
    ex.headers.emplace("If-Match", "\"" + std::to_string(version) + "\"");
  }
  const Reply reply = Perform(server, ex);
  if (reply.status == 204 || reply.status == 200) {
    if (Json(line))
      PrintJson({{"key", key}, {"seq", NumberHeader(reply, "X-Mehdb-Seq")}});
    return kOk;
  }
  if (IsMissingKey(reply)) {
    std::cerr << "mehdb: " << key << ": not found\n";
    return kNotFound;
  }
  return Fail("delete " + key, reply);
}

int Keys(const Endpoint& server, const Invocation& line) {
  const std::string prefix = line.Value("prefix");
  std::uint64_t limit = 0;  // 0: all
  int code = kOk;
  if (line.Has("limit") &&
      !NumberOption(line, "limit", 1, UINT64_MAX, limit, code))
    return code;
  bool ok = true;
  const std::string min_seq = MinSeqQuery(line, code, ok);
  if (!ok) return code;
  const bool json_out = Json(line);
  // Page through the listing so memory stays small for any store size; the
  // JSON array is printed as it goes, for the same reason.
  constexpr std::uint64_t kPage = 1000;
  std::string after;
  std::uint64_t printed = 0;
  if (json_out) std::cout << "[";
  while (limit == 0 || printed < limit) {
    const std::uint64_t n =
        limit == 0 ? kPage : std::min(kPage, limit - printed);
    Exchange ex;
    ex.method = "GET";
    ex.path = "/keys?prefix=" + PercentEncode(prefix) + "&after=" + PercentEncode(after) +
              "&limit=" + std::to_string(n) +
              (min_seq.empty() ? "" : "&" + min_seq);
    const Reply reply = Perform(server, ex);
    if (reply.status != 200) {
      if (json_out) std::cout << std::endl;
      return Fail("keys", reply);
    }
    const auto page = json::parse(reply.body, nullptr, false);
    if (!page.is_array()) {
      std::cerr << "mehdb: keys: the server's answer is not a JSON array ("
                << reply.url << ")\n";
      return kHttpError;
    }
    for (const auto& key : page) {
      if (!key.is_string()) continue;
      after = key.get<std::string>();
      if (json_out) {
        std::cout << (printed == 0 ? "" : ",")
                  << key.dump(-1, ' ', false, json::error_handler_t::replace);
      } else {
        std::cout << after << "\n";
      }
      ++printed;
    }
    if (reply.headers.find("Link") == reply.headers.end() || page.empty())
      break;
  }
  if (json_out) std::cout << "]\n";
  std::cout.flush();
  return std::cout ? kOk : kLocalError;
}

int Status(const Endpoint& server, const Invocation& line) {
  const bool full = line.Has("full");
  Exchange ex;
  ex.method = "GET";
  ex.path = full ? "/status?level=full" : "/status";
  const Reply reply = Perform(server, ex);
  if (reply.status != 200) return Fail("status", reply);
  std::string body = reply.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
    body.pop_back();
  if (!Json(line)) {
    std::cout << body << "\n";
    return kOk;
  }
  json doc;
  if (full) {
    auto keys = mehdbd::ParseCount(body, 0, UINT64_MAX);
    if (!std::holds_alternative<std::uint64_t>(keys)) {
      std::cerr << "mehdb: status: the server's count is not a number: '"
                << body.substr(0, 80) << "'\n";
      return kHttpError;
    }
    doc["keys"] = std::get<std::uint64_t>(keys);
  } else {
    doc["role"] = body;
  }
  doc["applied_seq"] = NumberHeader(reply, "X-Mehdb-Applied-Seq");
  if (const std::string state = Header(reply, "X-Mehdb-Follower-State");
      !state.empty())
    doc["follower_state"] = state;
  PrintJson(doc);
  return kOk;
}

int Replication(const Endpoint& server, const Invocation& line) {
  Exchange ex;
  ex.method = "GET";
  ex.path = "/replication";
  const Reply reply = Perform(server, ex);
  if (reply.status != 200) return Fail("replication", reply);
  const auto doc = json::parse(reply.body, nullptr, false);
  if (!doc.is_object()) {
    std::cerr << "mehdb: replication: the server's answer is not a JSON "
                 "object ("
              << reply.url << ")\n";
    return kHttpError;
  }
  std::cout << doc.dump(Json(line) ? -1 : 2, ' ', false,
                        json::error_handler_t::replace)
            << "\n";
  return kOk;
}

int Backup(const Endpoint& server, const Invocation& line) {
  const std::string& target = line.operands[0];
  if (target == "-" && Json(line))
    return Usage(line, "backup - writes the backup to stdout; -w json needs a FILE");
  std::string error;
  auto file = OutputFile::Open(target, 0600, error);
  if (!file) {
    std::cerr << "mehdb: backup: " << error << "\n";
    return kLocalError;
  }
  Progress progress("backup", !file->IsStdout() && Progress::StderrIsTerminal());
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
    return file->Write(d, n);
  };
  const Reply reply = Perform(server, ex);
  if (reply.sink_failed || (reply.status == 200 && !file->Commit(error))) {
    if (reply.sink_failed) file->Commit(error);  // fails with the reason
    std::cerr << "mehdb: backup: " << error << "\n";
    return kLocalError;
  }
  if (reply.status != 200) return Fail("backup", reply);
  if (Json(line)) {
    PrintJson({{"file", target}, {"bytes", done}});
  } else if (!file->IsStdout()) {
    std::cerr << "mehdb: backup written to " << target << " (" << done
              << " bytes; to restore it: mehdbd --datadir DIR --restore-from " << target
              << " (DIR empty, or add --restore-force))\n";
  }
  return kOk;
}

// One change as a text line: "SEQ put KEY VALUE" / "SEQ delete KEY".
std::string ChangeLine(const json& event) {
  std::string line = std::to_string(event.value("seq", std::uint64_t{0})) + " " +
                     event.value("op", std::string("?")) + " ";
  if (event.contains("key")) {
    line += event["key"].get<std::string>();
  } else {
    line += "<key base64 " + event.value("key_base64", std::string()) + ">";
  }
  if (event.value("op", std::string()) != "put") return line;
  const std::string value = event.value("value", std::string());
  if (event.contains("value") && value.find_first_of("\r\n") == std::string::npos) {
    line += " " + value;
  } else {
    line += " <" + std::to_string(event.value("size", std::uint64_t{0})) + " bytes>";
  }
  return line;
}

int Watch(const Endpoint& server, const Invocation& line) {
  int code = kOk;
  std::uint64_t from = 0, count = 0;
  if (line.Has("from") && !NumberOption(line, "from", 1, UINT64_MAX - 1, from, code)) return code;
  if (line.Has("count") && !NumberOption(line, "count", 1, UINT64_MAX, count, code)) return code;
  const std::string prefix = line.operands.empty() ? "" : line.operands[0];
  // Each long-poll waits at most half of --timeout on the server, so a
  // quiet poll ends well before the client would give up on it.
  const auto wait = std::max<std::chrono::milliseconds>(server.timeout / 2,
                                                        std::chrono::milliseconds(1));
  std::string history;
  std::uint64_t printed = 0;
  for (;;) {
    Exchange ex;
    ex.method = "GET";
    ex.path = "/watch?prefix=" + PercentEncode(prefix) + "&wait=" + std::to_string(wait.count()) + "ms" +
              (from != 0 ? "&from=" + std::to_string(from) : "") +
              (history.empty() ? "" : "&history=" + history) +
              (line.Has("sizes-only") ? "&values=false" : "");
    const Reply reply = Perform(server, ex);
    if (reply.status == 410) {
      const auto doc = json::parse(reply.body, nullptr, false);
      const std::string oldest = Header(reply, "X-Mehdb-Oldest-Seq");
      std::cerr << "mehdb: watch: "
                << (doc.is_object() ? doc.value("error", std::string("the change log moved on"))
                                    : std::string("the change log moved on"))
                << " (the oldest retained change is seq " << (oldest.empty() ? "?" : oldest)
                << "; list the keys again with mehdb keys, then mehdb watch --from the "
                   "listing's applied seq + 1)\n";
      return kTrimmed;
    }
    if (reply.status != 200) return Fail("watch", reply);
    const auto doc = json::parse(reply.body, nullptr, false);
    if (!doc.is_object() || !doc["events"].is_array() || !doc["next"].is_number_unsigned() ||
        !doc["history"].is_string()) {
      std::cerr << "mehdb: watch: the server's answer is not a watch answer (" << reply.url
                << ")\n";
      return kHttpError;
    }
    // Later polls name the history the first one saw: if the server's data
    // is replaced (a restore, a new lineage), its seqs mean other changes.
    history = doc["history"].get<std::string>();
    from = doc["next"].get<std::uint64_t>();
    for (const auto& event : doc["events"]) {
      if (Json(line)) {
        PrintJson(event);
      } else {
        std::cout << ChangeLine(event) << "\n";
      }
      if (count != 0 && ++printed == count) {
        std::cout.flush();
        return std::cout ? kOk : kLocalError;
      }
    }
    std::cout.flush();
    if (!std::cout) return kLocalError;
  }
}

}  // namespace

const std::vector<ExitCode>& ExitCodes() {
  static const std::vector<ExitCode> kCodes = {
      {kOk, "success"},
      {kNotFound, "the key does not exist"},
      {kUsage, "the command line is wrong (or the URL is not http(s)://)"},
      {kHttpError,
       "the server answered with an error, or has no such path (a wrong "
       "--url), or the connection broke off"},
      {kConditionFailed, "--if-version or --if-absent did not hold"},
      {kAcksShort,
       "fewer followers than --acks applied the write in time (it is stored)"},
      {kUnreachable, "connection refused, or the host is unreachable"},
      {kDnsFailure, "the host name does not resolve"},
      {kTlsFailure, "TLS failed: handshake, or the certificate was refused"},
      {kTimedOut, "no connection or no bytes within --timeout"},
      {kLocalError, "a local file or stdin/stdout could not be read or written"},
      {kTrimmed,
       "watch: --from is older than the server's retained change log (list the "
       "keys again, then watch from there)"},
  };
  return kCodes;
}

Command CommandFor(const std::string& name) {
  static const std::map<std::string, Command> kCommands = {
      {"get", Get},       {"put", Put},
      {"delete", Delete}, {"keys", Keys},
      {"status", Status}, {"replication", Replication},
      {"backup", Backup}, {"watch", Watch},
  };
  auto it = kCommands.find(name);
  return it == kCommands.end() ? nullptr : it->second;
}

}  // namespace mehdb_cli

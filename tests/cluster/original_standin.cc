// SPDX-License-Identifier: MIT
#include "original_standin.h"

#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace mehdb::cluster {
namespace {

namespace fs = std::filesystem;

bool IsOriginalKey(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

void NotFoundPage(httplib::Response& res) {
  res.status = 404;
  res.set_content("404 page not found\n", "text/plain; charset=utf-8");
}

}  // namespace

OriginalStandIn::OriginalStandIn(std::string datadir, const std::string& address, int port)
    : datadir_(std::move(datadir)) {
  for (const char* method : {"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"}) {
    auto handler = [this, m = std::string(method)](const httplib::Request& req,
                                                   httplib::Response& res) {
      Handle(m, req, res);
    };
    const std::string any = ".*";
    if (std::string(method) == "GET") server_.Get(any, handler);
    if (std::string(method) == "PUT") server_.Put(any, handler);
    if (std::string(method) == "POST") server_.Post(any, handler);
    if (std::string(method) == "DELETE") server_.Delete(any, handler);
    if (std::string(method) == "PATCH") server_.Patch(any, handler);
    if (std::string(method) == "OPTIONS") server_.Options(any, handler);
  }
  // SO_REUSEADDR, not httplib's default SO_REUSEPORT: the connections this
  // closes linger in TIME_WAIT, and mehdbd (SO_REUSEADDR) must bind the same
  // address and port as soon as the stand-in is gone.
  server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  listening_ = server_.bind_to_port(address, port);
  if (listening_) thread_ = std::thread([this] { server_.listen_after_bind(); });
}

OriginalStandIn::~OriginalStandIn() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void OriginalStandIn::Handle(const std::string& method, const httplib::Request& req,
                             httplib::Response& res) {
  const std::string& path = req.path;  // percent-decoded, as the original matched
  std::string want, key;
  if (path == "/keys") {
    want = "GET";
  } else if (path == "/status") {
    want = "GET";
  } else if (path.rfind("/get/", 0) == 0 && IsOriginalKey(path.substr(5))) {
    want = "GET";
    key = path.substr(5);
  } else if (path.rfind("/set/", 0) == 0 && IsOriginalKey(path.substr(5))) {
    want = "PUT";
    key = path.substr(5);
  } else {
    return NotFoundPage(res);
  }
  if (method != want) {
    res.status = 405;
    return;
  }
  std::vector<std::string> keys;
  auto list = [&] {
    for (const auto& e : fs::directory_iterator(datadir_)) {
      const std::string name = e.path().filename().string();
      if (name[0] != '.' && fs::exists(e.path() / "content")) keys.push_back(name);
    }
    std::sort(keys.begin(), keys.end());
  };
  if (path == "/keys") {
    list();
    std::string body = "[";
    for (std::size_t i = 0; i < keys.size(); ++i)
      body += (i ? ",\"" : "\"") + keys[i] + "\"";
    res.set_content(body + "]\n", "text/plain; charset=utf-8");
  } else if (path == "/status") {
    if (req.get_param_value("level") == "full") {
      list();
      res.set_content(std::to_string(keys.size()) + "\n", "text/plain; charset=utf-8");
    } else {
      res.set_content("leader", "text/plain; charset=utf-8");
    }
  } else if (want == "GET") {
    std::ifstream in(datadir_ + "/" + key + "/content", std::ios::binary);
    if (!in) {
      res.status = 404;
      res.set_content("\n", "text/plain; charset=utf-8");
      return;
    }
    std::ostringstream value;
    value << in.rdbuf();
    res.set_content(value.str(), "application/octet-stream");
  } else {
    fs::create_directories(datadir_ + "/" + key);
    std::ofstream(datadir_ + "/" + key + "/content", std::ios::binary | std::ios::trunc)
        << req.body;
    res.set_content("WRITE completed", "text/plain; charset=utf-8");
  }
}

}  // namespace mehdb::cluster

// SPDX-License-Identifier: MIT
//
// The new front end's ceiling for bench/http/run.sh: mehdbd's event-driven
// front end (net/front_end.h) with a service that answers a fixed 1 KiB
// body to every request, with nothing behind it. A GET is answered on the
// event loop (in Admit), as mehdbd's GET is, so the ratio measures what
// mehdbd's routes and store add to the stack; a PUT's body is read and it
// is answered on a worker, as mehdbd's PUT is.
//
//   bare_frontend_server PORT [WORKERS] [KEEP_ALIVE_REQUESTS]
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "net/front_end.h"
#include "net/service.h"

namespace {

class Constant final : public mehdbd::net::Service {
 public:
  Admission Admit(mehdbd::net::Request& req, mehdbd::net::Response& res) override {
    if (req.method == "PUT") return Admission::kReadBody;  // body read, answered on a worker
    Handle(req, res);
    return Admission::kAnswered;
  }
  void Handle(mehdbd::net::Request&, mehdbd::net::Response& res) override {
    res.set_content(body_, "application/octet-stream");
  }

 private:
  const std::string body_ = std::string(1024, 'v');
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bare_frontend_server PORT [WORKERS] [KEEP_ALIVE_REQUESTS]\n";
    return 2;
  }
  Constant service;
  mehdbd::net::FrontEnd front_end({});
  mehdbd::net::ListenerOptions o;
  o.name = "bare";
  o.host = "127.0.0.1";
  o.port = std::atoi(argv[1]);
  o.service = &service;
  o.workers = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 64;
  o.limits.max_requests = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 100;
  std::string error;
  if (front_end.Listen(o, error) < 0) {
    std::cerr << error << "\n";
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  front_end.Run();
  return 0;
}

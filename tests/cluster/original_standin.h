// SPDX-License-Identifier: MIT
//
// OriginalStandIn: a stand-in for a pod running the original mehdb 0.6 as
// leader, for the rolling-upgrade tests. It serves exactly what
// /work/shared/ORIGINAL_API.md ("Keep") says the original serves, from a data
// directory in the original's layout (DATADIR/<key>/content, "On disk"), so
// a test changes the leader's data by writing files as the original would:
//
//   GET /keys               200, compact JSON array of the keys, sorted
//                           byte-wise, then "\n"
//   GET /get/{key}          200 with the raw bytes; missing: 404, body "\n"
//   GET /status             200 "leader"; ?level=full: the key count + "\n"
//   PUT /set/{key}          200 "WRITE completed" (truncate, then write)
//   keys outside [a-z]+, unknown paths
//                           404 "404 page not found\n"
//   a known path, another method
//                           405
//
// A key exists when its directory holds a `content` file; names starting
// with '.' are skipped. It has no peer port: nothing listens there.
#ifndef MEHDB_TESTS_CLUSTER_ORIGINAL_STANDIN_H_
#define MEHDB_TESTS_CLUSTER_ORIGINAL_STANDIN_H_

#include <httplib.h>

#include <string>
#include <thread>

namespace mehdb::cluster {

class OriginalStandIn {
 public:
  // Listens on address:port (loopback only) until destroyed.
  OriginalStandIn(std::string datadir, const std::string& address, int port);
  ~OriginalStandIn();
  bool listening() const { return listening_; }

 private:
  void Handle(const std::string& method, const httplib::Request& req, httplib::Response& res);

  std::string datadir_;
  httplib::Server server_;
  std::thread thread_;
  bool listening_ = false;
};

}  // namespace mehdb::cluster

#endif  // MEHDB_TESTS_CLUSTER_ORIGINAL_STANDIN_H_

// SPDX-License-Identifier: MIT
//
// Pod: one real mehdbd process standing in for a StatefulSet pod. Each pod
// has its own name (mehdb-N, given as MEHDB_HOST), its own loopback address
// 127.0.0.<base+N> with the same client and peer ports as its siblings, and
// its own data directory that outlives the process, like a PVC. Tests kill
// pods with SIGKILL and start them again with the same name and directory.
#ifndef MEHDB_TESTS_CLUSTER_POD_H_
#define MEHDB_TESTS_CLUSTER_POD_H_

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mehdb::cluster {

struct Ports {
  int client;
  int peer;
  int base_octet;  // pods live at 127.0.0.<base_octet + ordinal>
  // Distinct per test process, so suites can run side by side.
  static Ports ForThisProcess();
};

class Pod {
 public:
  Pod(std::string workdir, int ordinal, Ports ports, std::vector<std::string> extra_args = {});
  ~Pod();

  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  const std::string& datadir() const { return datadir_; }
  std::string url() const;
  int ordinal() const { return ordinal_; }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Starts the process and waits until /healthz answers.
  void Start();
  void Kill();       // SIGKILL, then reap
  int Terminate();   // SIGTERM, then reap; answers the exit status
  void Signal(int sig);  // without waiting
  int Wait();        // reaps after Signal(); answers the exit status
  std::string LogText() const;  // everything the process wrote
  void WipeData();   // like deleting the PVC: only while stopped
  void SetExtraArgs(std::vector<std::string> args) { extra_args_ = std::move(args); }
  // The pod serves TLS (its extra args carry --tls-cert/--tls-key): its
  // clients use https:// and trust `ca_file`, and the leader URL it is
  // given is https://. Call before Start().
  void UseTls(std::string ca_file) { ca_file_ = std::move(ca_file); }

  // The bearer token every client of this pod sends (pods started with
  // --auth-token-file); empty = none.
  void SetClientToken(std::string token) { token_ = std::move(token); }

  std::unique_ptr<httplib::Client> Client(int timeout_s = 5) const;
  // Convenience calls; nullopt on a transport error.
  std::optional<int> Put(const std::string& key, const std::string& value,
                         std::string* seq_out = nullptr) const;
  std::optional<int> Delete(const std::string& key) const;
  std::optional<std::string> Get(const std::string& key) const;
  int Status(const std::string& path) const;  // GET path -> status (0 on error)
  // GET /replication as raw JSON text ("" on error).
  std::string ReplicationJson() const;
  // Every key and value, via /keys and /get (the data a client sees).
  std::map<std::string, std::string> Contents() const;

 private:
  std::string workdir_;
  int ordinal_;
  Ports ports_;
  std::vector<std::string> extra_args_;
  std::string token_;
  std::string ca_file_;  // non-empty: TLS
  std::string name_, address_, datadir_, logfile_;
  pid_t pid_ = -1;
};

// Polls `cond` every 20 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& cond,
               std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The number a JSON text gives `field` ("\"field\": 12"), or -1.
long long JsonNumber(const std::string& json, const std::string& field);

}  // namespace mehdb::cluster

#endif  // MEHDB_TESTS_CLUSTER_POD_H_

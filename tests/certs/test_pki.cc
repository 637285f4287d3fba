// SPDX-License-Identifier: MIT
//
// Implementation of test_pki.h. OpenSSL 3.0's `x509 -req` cannot set a
// start date, so expired leaves are signed with `openssl ca`, which takes
// -startdate/-enddate and needs a small config and database of its own.
#include "test_pki.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mehdb_test {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TestPki::TestPki(std::string dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_ + "/db");
  const std::string name = std::filesystem::path(dir_).filename().string();
  ca_cert_ = dir_ + "/ca.crt";
  ca_key_ = dir_ + "/ca.key";
  Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key_, "-out",
           ca_cert_, "-subj", "/CN=" + name + " test CA", "-days", "3"});
  Write(dir_ + "/db/index.txt", "");
  Write(dir_ + "/db/serial", "1000\n");
  Write(dir_ + "/ca.cnf",
        "[ca]\ndefault_ca = test\n"
        "[test]\ndatabase = " + dir_ + "/db/index.txt\n"
        "new_certs_dir = " + dir_ + "/db\n"
        "serial = " + dir_ + "/db/serial\n"
        "default_md = sha256\npolicy = any\nunique_subject = no\n"
        "[any]\ncommonName = supplied\n");
}

void TestPki::Openssl(const std::vector<std::string>& args) const {
  const std::string log = dir_ + "/openssl.log";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    std::string prog = "openssl";
    argv.push_back(prog.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("openssl", argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd = "openssl";
    for (const std::string& a : args) cmd += " " + a;
    throw std::runtime_error(cmd + " failed: " + Slurp(log));
  }
}

std::string TestPki::Request(const std::string& name) const {
  const std::string csr = dir_ + "/" + name + ".csr";
  Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout",
           dir_ + "/" + name + ".key", "-out", csr, "-subj", "/CN=" + name});
  return csr;
}

std::string TestPki::Extensions(const std::string& name,
                                const std::string& sans) const {
  const std::string ext = dir_ + "/" + name + ".ext";
  Write(ext, "subjectAltName = " + sans +
                 "\nextendedKeyUsage = serverAuth\n"
                 "basicConstraints = CA:FALSE\n");
  return ext;
}

CertFiles TestPki::Issue(const std::string& name,
                         const std::string& sans) const {
  const std::string csr = Request(name);
  CertFiles out{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  Openssl({"x509", "-req", "-in", csr, "-CA", ca_cert_, "-CAkey", ca_key_,
           "-CAcreateserial", "-days", "2", "-extfile",
           Extensions(name, sans), "-out", out.cert});
  return out;
}

CertFiles TestPki::IssueExpired(const std::string& name,
                                const std::string& sans) const {
  const std::string csr = Request(name);
  CertFiles out{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  Openssl({"ca", "-batch", "-config", dir_ + "/ca.cnf", "-cert", ca_cert_,
           "-keyfile", ca_key_, "-in", csr, "-out", out.cert, "-notext",
           "-startdate", "200101000000Z", "-enddate", "200102000000Z",
           "-extfile", Extensions(name, sans)});
  return out;
}

}  // namespace mehdb_test

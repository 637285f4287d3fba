// SPDX-License-Identifier: MIT
//
// Certificates for TLS tests, made at test time with the `openssl` command
// into a directory the test owns: a CA, leaf certificates it signs for
// given subjectAltNames, and leaves that expired long ago. Two TestPki
// objects are two unrelated CAs (for "signed by the wrong CA" cases).
//
//   mehdb_test::TestPki pki(dir + "/ca1");
//   auto server = pki.Issue("server", "IP:127.0.0.1,DNS:localhost");
//   // server.cert, server.key: PEM files; pki.ca_cert(): the CA's PEM
//
// Failures (no openssl, a command error) throw std::runtime_error with
// openssl's output.
#ifndef MEHDB_TESTS_CERTS_TEST_PKI_H_
#define MEHDB_TESTS_CERTS_TEST_PKI_H_

#include <string>
#include <vector>

namespace mehdb_test {

struct CertFiles {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key
};

class TestPki {
 public:
  // Creates `dir` (and parents) and a CA named after its last component.
  explicit TestPki(std::string dir);

  const std::string& ca_cert() const { return ca_cert_; }

  // A leaf valid from now for a few days; `sans` in openssl's syntax.
  CertFiles Issue(const std::string& name, const std::string& sans) const;
  // A leaf valid only in January 2020.
  CertFiles IssueExpired(const std::string& name,
                         const std::string& sans) const;

 private:
  // Runs openssl with `args`; throws with its output on failure.
  void Openssl(const std::vector<std::string>& args) const;
  // A key and a signing request for `name`; answers the CSR path.
  std::string Request(const std::string& name) const;
  std::string Extensions(const std::string& name,
                         const std::string& sans) const;

  std::string dir_;
  std::string ca_cert_, ca_key_;
};

}  // namespace mehdb_test

#endif  // MEHDB_TESTS_CERTS_TEST_PKI_H_

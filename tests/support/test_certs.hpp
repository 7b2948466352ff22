#pragma once
// Certificates for TLS tests, made with OpenSSL when the harness needs them
// (nothing checked in, nothing downloaded): a CA, server certificates for
// localhost/127.0.0.1 (valid, expired, issued for another name), a client
// certificate, and a second CA that signed none of them.
#include <filesystem>
#include <string>

namespace pgw::test {

struct TestCerts {
  // Writes every file under `dir` (created if missing); keys are mode 0600.
  explicit TestCerts(const std::filesystem::path& dir);

  std::filesystem::path ca_cert;
  std::filesystem::path server_cert, server_key;          // DNS:localhost, IP:127.0.0.1
  std::filesystem::path wrong_host_cert, wrong_host_key;  // DNS:wrong.example only
  std::filesystem::path expired_cert, expired_key;        // localhost, expired a day ago
  std::filesystem::path client_cert, client_key;          // CN=app
  std::filesystem::path other_ca_cert;                    // trusts none of the above
};

// TestCerts in a fresh /tmp/pgwarden-certs-* directory, removed with it;
// tests may put their own files there too.
struct TempTestCerts : TestCerts {
  TempTestCerts();
  ~TempTestCerts();
  TempTestCerts(const TempTestCerts&) = delete;
  TempTestCerts& operator=(const TempTestCerts&) = delete;
  std::filesystem::path dir;
};

}  // namespace pgw::test

#include "test_certs.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace pgw::test {

namespace fs = std::filesystem;

namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

Key new_key() {
  Key k(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!k) throw std::runtime_error("EVP_EC_gen failed");
  return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error(std::string("bad certificate extension ") + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// `issuer`/`issuer_key` null: self-signed. Validity in seconds from now.
Cert make_cert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, bool ca,
               const char* san, long not_before_s, long not_after_s) {
  Cert c(X509_new(), X509_free);
  X509_set_version(c.get(), 2);
  unsigned char serial[8];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), not_after_s);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer ? issuer : c.get();
  X509_set_issuer_name(c.get(), X509_get_subject_name(signer));
  if (ca) {
    add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(c.get(), signer, NID_basic_constraints, "CA:FALSE");
    if (san) add_ext(c.get(), signer, NID_subject_alt_name, san);
  }
  add_ext(c.get(), signer, NID_subject_key_identifier, "hash");
  if (!X509_sign(c.get(), issuer_key ? issuer_key : key, EVP_sha256()))
    throw std::runtime_error("X509_sign failed");
  return c;
}

void write_cert(const fs::path& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f || !PEM_write_X509(f, cert)) throw std::runtime_error("cannot write " + path.string());
  std::fclose(f);
}

void write_key(const fs::path& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f || !PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr))
    throw std::runtime_error("cannot write " + path.string());
  std::fclose(f);
  ::chmod(path.c_str(), 0600);
}

}  // namespace

TestCerts::TestCerts(const fs::path& dir) {
  fs::create_directories(dir);
  constexpr long kDay = 24 * 3600;
  Key ca_key = new_key();
  Cert ca = make_cert("pgwarden test CA", ca_key.get(), nullptr, nullptr, true, nullptr, -kDay,
                      30 * kDay);
  ca_cert = dir / "ca.crt";
  write_cert(ca_cert, ca.get());

  auto leaf = [&](const char* stem, const char* cn, const char* san, long from, long to,
                  fs::path& cert_path, fs::path& key_path) {
    Key k = new_key();
    Cert c = make_cert(cn, k.get(), ca.get(), ca_key.get(), false, san, from, to);
    cert_path = dir / (std::string(stem) + ".crt");
    key_path = dir / (std::string(stem) + ".key");
    write_cert(cert_path, c.get());
    write_key(key_path, k.get());
  };
  leaf("server", "localhost", "DNS:localhost,IP:127.0.0.1", -kDay, 30 * kDay, server_cert,
       server_key);
  leaf("wrong-host", "wrong.example", "DNS:wrong.example", -kDay, 30 * kDay, wrong_host_cert,
       wrong_host_key);
  leaf("expired", "localhost", "DNS:localhost,IP:127.0.0.1", -10 * kDay, -kDay, expired_cert,
       expired_key);
  leaf("client", "app", nullptr, -kDay, 30 * kDay, client_cert, client_key);

  Key other_key = new_key();
  Cert other =
      make_cert("another CA", other_key.get(), nullptr, nullptr, true, nullptr, -kDay, 30 * kDay);
  other_ca_cert = dir / "other-ca.crt";
  write_cert(other_ca_cert, other.get());
}

namespace {
fs::path make_temp_dir() {
  char tmpl[] = "/tmp/pgwarden-certs-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed for test certificates");
  return tmpl;
}
}  // namespace

TempTestCerts::TempTestCerts() : TestCerts(make_temp_dir()), dir(ca_cert.parent_path()) {}

TempTestCerts::~TempTestCerts() {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace pgw::test

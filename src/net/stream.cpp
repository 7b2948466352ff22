#include "pgwarden/net/stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace pgw::net {

namespace ssl = asio::ssl;

namespace {

TlsFailure classify(long verify_result, const boost::system::error_code& ec) {
  const std::string openssl = ec.message();
  auto failure = [&](const char* reason, const std::string& what) {
    return TlsFailure{reason, what};
  };
  if (verify_result != X509_V_OK) {
    const std::string what = fmt::format("certificate verification failed: {}",
                                         X509_verify_cert_error_string(verify_result));
    switch (verify_result) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        return failure("cert_expired", what);
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return failure("cert_not_yet_valid", what);
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return failure("hostname_mismatch", what);
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return failure("unknown_ca", what);
      default:
        return failure("verify_failed", what);
    }
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
        reason == SSL_R_NO_PROTOCOLS_AVAILABLE || reason == SSL_R_WRONG_VERSION_NUMBER)
      return failure("protocol", "no TLS version both sides accept: " + openssl);
  }
  return failure("handshake_failed", openssl);
}

}  // namespace

asio::awaitable<void> Stream::handshake_client(std::shared_ptr<ssl::context> ctx,
                                               const std::string& host, TlsVerify verify,
                                               bool sni) {
  ctx_ = std::move(ctx);
  auto tls = std::make_unique<ssl::stream<asio::ip::tcp::socket&>>(sock_, *ctx_);
  SSL* native = tls->native_handle();
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  // libpq sends SNI for host names only (RFC 6066 forbids literal addresses).
  // (SSL_set_tlsext_host_name is a macro with an old-style cast.)
  if (sni && !is_ip)
    SSL_ctrl(native, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
  if (verify == TlsVerify::none) {
    tls->set_verify_mode(ssl::verify_none);
  } else {
    tls->set_verify_mode(ssl::verify_peer);
    if (verify == TlsVerify::full) {
      // OpenSSL's own check, so that a mismatch is named in the verify result.
      X509_VERIFY_PARAM* param = SSL_get0_param(native);
      if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(native, host.c_str());
      }
    }
  }
  ec.clear();
  co_await tls->async_handshake(ssl::stream_base::client,
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    const long verify_result =
        verify == TlsVerify::none ? X509_V_OK : SSL_get_verify_result(native);
    throw TlsHandshakeError(classify(verify_result, ec));
  }
  tls_ = std::move(tls);
}

std::string Stream::tls_version() const {
  return tls_ ? SSL_get_version(tls_->native_handle()) : "";
}

std::string Stream::tls_cipher() const {
  if (!tls_) return "";
  const char* name = SSL_get_cipher_name(tls_->native_handle());
  return name ? name : "";
}

std::string Stream::tls_description() const {
  return tls_ ? tls_version() + "/" + tls_cipher() : "";
}

std::string Stream::server_end_point() const {
  if (!tls_) return "";
  X509* cert = SSL_get1_peer_certificate(tls_->native_handle());
  if (!cert) return "";
  int md_nid = NID_undef;
  const EVP_MD* md = nullptr;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, nullptr)) {
    md = (md_nid == NID_md5 || md_nid == NID_sha1) ? EVP_sha256() : EVP_get_digestbynid(md_nid);
  }
  std::string out;
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (md && X509_digest(cert, md, buf, &len) == 1)
    out.assign(reinterpret_cast<const char*>(buf), len);
  X509_free(cert);
  return out;
}

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& root_cert,
                                                      const std::string& cert_file,
                                                      const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  auto load = [&](const char* what, const std::string& file, auto&& fn) {
    boost::system::error_code ec;
    fn(ec);
    if (ec)
      throw std::runtime_error(fmt::format("cannot load {} \"{}\": {}", what, file, ec.message()));
  };
  if (root_cert == "system") {
    load("the system's trusted certificates", root_cert,
         [&](auto& ec) { ctx->set_default_verify_paths(ec); });
  } else if (!root_cert.empty()) {
    load("sslrootcert", root_cert, [&](auto& ec) { ctx->load_verify_file(root_cert, ec); });
  }
  if (!cert_file.empty())
    load("sslcert", cert_file, [&](auto& ec) { ctx->use_certificate_chain_file(cert_file, ec); });
  if (!key_file.empty())
    load("sslkey", key_file,
         [&](auto& ec) { ctx->use_private_key_file(key_file, ssl::context::pem, ec); });
  return ctx;
}

}  // namespace pgw::net

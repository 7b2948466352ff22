#include "pgwarden/net/stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
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
    auto refused = [&](const char* what, const char* why) {
      TlsFailure f{what,
                   std::string("the peer refused the handshake: ") + why + " (" + openssl + ")"};
      f.peer_alert = true;
      return f;
    };
    switch (reason) {
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      case SSL_R_NO_PROTOCOLS_AVAILABLE:
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_NO_SHARED_CIPHER:
        return failure("protocol", "no TLS version or cipher both sides accept: " + openssl);
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return failure("cert_missing", "the peer presented no certificate, and one is required");
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        return refused("unknown_ca", "it does not trust the certificate authority");
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        return refused("cert_expired", "it found the certificate expired");
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
        return refused("verify_failed", "it could not verify the certificate");
      case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
      case SSL_R_NO_APPLICATION_PROTOCOL:
        return failure("alpn", "the peer offered no ALPN protocol this side speaks: " + openssl);
      default:
        break;
    }
  }
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
      ec == asio::error::connection_reset)
    return failure("handshake_failed", "the peer closed the connection during the TLS handshake");
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

asio::awaitable<void> Stream::handshake_server(std::shared_ptr<ssl::context> ctx,
                                               TlsVerify verify) {
  ctx_ = std::move(ctx);
  auto tls = std::make_unique<ssl::stream<asio::ip::tcp::socket&>>(sock_, *ctx_);
  if (verify == TlsVerify::none)
    tls->set_verify_mode(ssl::verify_none);
  else
    tls->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  boost::system::error_code ec;
  co_await tls->async_handshake(ssl::stream_base::server,
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    const long verify_result =
        verify == TlsVerify::none ? X509_V_OK : SSL_get_verify_result(tls->native_handle());
    throw TlsHandshakeError(classify(verify_result, ec));
  }
  tls_ = std::move(tls);
}

asio::awaitable<void> Stream::close_notify(std::chrono::milliseconds bound) {
  if (!tls_) co_return;
  // Only sends: marked as received already, the peer's close_notify is not
  // awaited (asio would read for it, beside a read another coroutine may
  // have pending). Bounded, since a peer that does not read blocks the write.
  SSL_set_shutdown(tls_->native_handle(), SSL_RECEIVED_SHUTDOWN);
  asio::steady_timer timer(sock_.get_executor());
  timer.expires_after(bound);
  timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored;
    sock_.cancel(ignored);
  });
  boost::system::error_code ec;
  co_await tls_->async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
}

std::string Stream::alpn() const {
  if (!tls_) return "";
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(tls_->native_handle(), &data, &len);
  return data ? std::string(reinterpret_cast<const char*>(data), len) : "";
}

std::string Stream::peer_common_name() const {
  if (!tls_) return "";
  X509* cert = SSL_get1_peer_certificate(tls_->native_handle());
  if (!cert) return "";
  std::string out;
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    out.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
               static_cast<size_t>(ASN1_STRING_length(value)));
    // A common name with a NUL in it could pass for a shorter one.
    if (out.find('\0') != std::string::npos) out.clear();
  }
  X509_free(cert);
  return out;
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

}  // namespace pgw::net

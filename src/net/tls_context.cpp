// TLS contexts: the client side towards servers (libpq's sslrootcert,
// sslcert, sslkey) and the server side towards clients (client_tls_*).
#include <boost/asio/ssl/context.hpp>

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <utility>

#include "pgwarden/net/stream.hpp"

namespace pgw::net {

namespace ssl = asio::ssl;

namespace {

template <class Fn>
void load(const char* what, const std::string& file, Fn&& fn) {
  boost::system::error_code ec;
  fn(ec);
  if (ec)
    throw std::runtime_error(fmt::format("cannot load {} \"{}\": {}", what, file, ec.message()));
}

// ALPN (RFC 7301): the protocol list arrives as length-prefixed names; the
// one this side speaks is chosen, else the handshake fails with
// no_application_protocol. A client that offers no ALPN never gets here.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* wanted = static_cast<const std::string*>(arg);
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == *wanted) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& root_cert,
                                                      const std::string& cert_file,
                                                      const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
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

std::shared_ptr<ssl::context> make_server_tls_context(const ClientTls& tls,
                                                      const std::string& alpn) {
  // The context and the ALPN name its callback reads live and die together.
  auto holder = std::make_shared<std::pair<ssl::context, std::string>>(
      std::piecewise_construct, std::forward_as_tuple(ssl::context::tls_server),
      std::forward_as_tuple(alpn));
  ssl::context& ctx = holder->first;
  SSL_CTX* native = ctx.native_handle();
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                  ssl::context::single_dh_use);
  const auto range = parse_tls_protocols(tls.protocols);
  if (!range)
    throw std::runtime_error(
        fmt::format("client_tls_protocols \"{}\" names no TLS version "
                    "pgwarden offers (tlsv1.2, tlsv1.3)",
                    tls.protocols));
  SSL_CTX_set_min_proto_version(native, range->min);
  SSL_CTX_set_max_proto_version(native, range->max);
  if (tls.ciphers != "default" && SSL_CTX_set_cipher_list(native, tls.ciphers.c_str()) != 1)
    throw std::runtime_error(
        fmt::format("client_tls_ciphers \"{}\" names no cipher OpenSSL knows", tls.ciphers));
  if (tls.tls13_ciphers != "default" &&
      SSL_CTX_set_ciphersuites(native, tls.tls13_ciphers.c_str()) != 1)
    throw std::runtime_error(
        fmt::format("client_tls13_ciphers \"{}\" names no TLS 1.3 cipher suite OpenSSL knows",
                    tls.tls13_ciphers));
  load("client_tls_cert_file", tls.cert_file,
       [&](auto& ec) { ctx.use_certificate_chain_file(tls.cert_file, ec); });
  load("client_tls_key_file", tls.key_file,
       [&](auto& ec) { ctx.use_private_key_file(tls.key_file, ssl::context::pem, ec); });
  if (SSL_CTX_check_private_key(native) != 1)
    throw std::runtime_error(
        fmt::format("client_tls_key_file \"{}\" does not match the "
                    "certificate in client_tls_cert_file \"{}\"",
                    tls.key_file, tls.cert_file));
  if (!tls.ca_file.empty()) {
    load("client_tls_ca_file", tls.ca_file,
         [&](auto& ec) { ctx.load_verify_file(tls.ca_file, ec); });
    // The CAs named in the certificate request, so clients pick the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca_file.c_str()))
      SSL_CTX_set_client_CA_list(native, names);
  }
  // Resumed sessions would skip the client-certificate check on a reload.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_alpn_select_cb(native, select_alpn, &holder->second);
  return std::shared_ptr<ssl::context>(holder, &holder->first);
}

}  // namespace pgw::net

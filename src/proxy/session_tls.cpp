// TLS towards the client: PostgreSQL's SSLRequest answer and PostgreSQL 17's
// direct TLS (a connection that opens with a TLS record, ALPN "postgresql"),
// the handshake under client_tls_*, plaintext refused where TLS is required,
// and the client certificate's checks (verify-full, auth_type = cert).
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <sys/socket.h>

#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"

namespace pgw::proxy {

using asio::use_awaitable;

asio::awaitable<bool> Session::accept_direct_tls() {
  auto ctx = proxy_.client_tls_context();
  if (!ctx) co_return true;  // TLS off: a TLS record fails as a startup packet would
  // A peek, so a plaintext startup packet stays for read_startup.
  boost::system::error_code ec;
  co_await client_.socket().async_wait(tcp::socket::wait_read,
                                       asio::redirect_error(use_awaitable, ec));
  if (ec) throw boost::system::system_error(ec);
  unsigned char first = 0;
  const ssize_t n = ::recv(client_.socket().native_handle(), &first, 1, MSG_PEEK);
  if (n != 1 || first != wire::kTlsHandshakeRecord) co_return true;
  co_return co_await start_tls(std::move(ctx), true);
}

asio::awaitable<bool> Session::answer_ssl_request() {
  auto ctx = proxy_.client_tls_context();
  if (client_.tls()) {
    co_await send_fatal_and_close(sqlstate::kProtocolViolation,
                                  "SSLRequest received inside a TLS connection",
                                  "protocol_violation");
    co_return false;
  }
  if (!ctx) {
    // client_tls_sslmode = disable: 'N' tells the client to go on in
    // plaintext (or give up, if it requires encryption).
    co_await client_out_.send("N");
    co_return true;
  }
  if (!cbuf_.empty()) {
    // Bytes sent before the handshake would be read as if they came through
    // TLS (CVE-2021-23214): refused, as PostgreSQL does.
    co_await send_fatal_and_close(sqlstate::kProtocolViolation,
                                  "received unencrypted data after SSL request",
                                  "protocol_violation");
    co_return false;
  }
  co_await client_out_.send("S");
  co_return co_await start_tls(std::move(ctx), false);
}

asio::awaitable<bool> Session::start_tls(std::shared_ptr<asio::ssl::context> ctx, bool direct) {
  const SslMode mode = proxy_.config().client_tls.sslmode;
  const bool verify = mode == SslMode::verify_ca || mode == SslMode::verify_full;
  try {
    co_await client_.handshake_server(std::move(ctx),
                                      verify ? net::TlsVerify::ca : net::TlsVerify::none);
  } catch (const net::TlsHandshakeError& e) {
    proxy_.count_client_tls_handshake(e.failure.reason);
    // Nothing PostgreSQL-shaped can reach a client mid-handshake: the TLS
    // alert is its message, the event says why.
    end_with("client_tls_" + e.failure.reason, e.failure.peer_alert ? "client" : "proxy", "",
             e.failure.message, 0, "disconnected");
    boost::system::error_code ignored;
    client_.socket().close(ignored);
    co_return false;
  }
  if (direct && client_.alpn().empty()) {
    // PostgreSQL 17 refuses direct TLS without ALPN: a TLS client that does
    // not say it speaks PostgreSQL may be another protocol's (ALPACA).
    proxy_.count_client_tls_handshake("alpn");
    co_await send_fatal_and_close(
        sqlstate::kProtocolViolation,
        "received direct SSL connection request without ALPN protocol negotiation extension",
        "client_tls_alpn");
    co_return false;
  }
  proxy_.count_client_tls_handshake("ok");
  tls_ = client_.tls_description();
  co_return true;
}

bool Session::plaintext_refused() const {
  const SslMode mode = proxy_.config().client_tls.sslmode;
  return !client_.tls() && mode != SslMode::disable && mode != SslMode::allow &&
         mode != SslMode::prefer;
}

asio::awaitable<bool> Session::check_client_certificate() {
  const ProxyConfig& cfg = proxy_.config();
  const bool full = cfg.client_tls.sslmode == SslMode::verify_full;
  if (!full && cfg.auth_type != ClientAuth::cert) co_return true;
  // verify-ca / verify-full made the handshake require a trusted certificate.
  const std::string cn = client_.peer_common_name();
  if (cn == user_) co_return true;
  const std::string why = cn.empty() ? "the certificate has no common name"
                                     : fmt::format("the certificate's common name is \"{}\"", cn);
  // A named local: GCC 12 frees a ?: temporary passed to co_await twice.
  std::string message =
      cfg.auth_type == ClientAuth::cert
          ? fmt::format("certificate authentication failed for user \"{}\": {}", user_, why)
          : fmt::format(
                "certificate validation (client_tls_sslmode = verify-full) failed for "
                "user \"{}\": {}",
                user_, why);
  co_await send_fatal_and_close(sqlstate::kInvalidAuthorization, std::move(message),
                                "client_cert_mismatch");
  co_return false;
}

}  // namespace pgw::proxy

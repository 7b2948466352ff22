#pragma once
// A TCP connection that may carry TLS: the one type server links are read and
// written through. Plain until handshake_client() succeeds; the TCP socket
// stays reachable for options, liveness peeks, cancel and close. Meets asio's
// AsyncReadStream/AsyncWriteStream, so asio::async_write and friends work on
// it as on a socket.
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "pgwarden/core/config.hpp"

namespace pgw::net {

namespace asio = boost::asio;

// What a TLS peer's certificate must prove, as libpq's sslmode names it.
enum class TlsVerify {
  none,  // encrypt only
  ca,    // verify-ca: signed by a trusted CA
  full,  // verify-full: and issued for the host name (or IP) dialled
};

// Why a TLS handshake failed: `reason` completes a cause code
// ("server_tls_" + reason, docs/events.md).
struct TlsFailure {
  std::string reason;  // cert_expired, unknown_ca, hostname_mismatch, protocol, handshake_failed...
  std::string message;      // OpenSSL's words, with the verify result when there is one
  bool peer_alert = false;  // the peer refused (it sent the alert), not this side's checks
};

class Stream {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;

  explicit Stream(asio::any_io_executor ex) : sock_(std::move(ex)) {}
  explicit Stream(asio::ip::tcp::socket sock) : sock_(std::move(sock)) {}

  executor_type get_executor() { return sock_.get_executor(); }
  asio::ip::tcp::socket& socket() { return sock_; }
  const asio::ip::tcp::socket& socket() const { return sock_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_)
            tls_->async_read_some(b, std::move(handler));
          else
            sock_.async_read_some(b, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_)
            tls_->async_write_some(b, std::move(handler));
          else
            sock_.async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

  // TLS client handshake over the connected socket. `host` is sent as SNI
  // (unless it is an IP address or `sni` is false) and, with TlsVerify::full,
  // checked against the certificate. Throws TlsHandshakeError.
  asio::awaitable<void> handshake_client(std::shared_ptr<asio::ssl::context> ctx,
                                         const std::string& host, TlsVerify verify, bool sni);

  // TLS server handshake (pgwarden towards a client). With TlsVerify::ca or
  // full the client must present a certificate `ctx` trusts (the common name
  // is the caller's to check). Throws TlsHandshakeError.
  asio::awaitable<void> handshake_server(std::shared_ptr<asio::ssl::context> ctx, TlsVerify verify);
  // Sends TLS close_notify (taking at most `bound`) without waiting for the
  // peer's; nothing without TLS. Before a close, so the peer reads a clean
  // end of stream. No other write may be under way.
  asio::awaitable<void> close_notify(std::chrono::milliseconds bound);

  bool tls() const { return static_cast<bool>(tls_); }
  // The ALPN protocol agreed in the handshake; "" when none.
  std::string alpn() const;
  // The common name of the peer's verified certificate; "" when none.
  std::string peer_common_name() const;
  std::string tls_version() const;  // "TLSv1.3"; "" without TLS
  std::string tls_cipher() const;   // "TLS_AES_256_GCM_SHA384"; "" without TLS
  // "TLSv1.3/TLS_AES_256_GCM_SHA384", as PgBouncer's SHOW SERVERS writes it; "" without TLS.
  std::string tls_description() const;
  // RFC 5929 tls-server-end-point: the hash of the peer's certificate (SHA-256
  // for MD5/SHA-1 signatures, else the signature's own hash); "" without TLS.
  std::string server_end_point() const;

 private:
  asio::ip::tcp::socket sock_;
  std::shared_ptr<asio::ssl::context> ctx_;  // outlives the stream that uses it
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
};

struct TlsHandshakeError : std::runtime_error {
  explicit TlsHandshakeError(TlsFailure f) : std::runtime_error(f.message), failure(std::move(f)) {}
  TlsFailure failure;
};

// A TLS client context: TLS 1.2 at least; trusted CAs from `root_cert` (a
// PEM file, "system" for the system's store, "" for none); a client
// certificate and key when given. Throws std::runtime_error naming the file.
std::shared_ptr<asio::ssl::context> make_client_tls_context(const std::string& root_cert,
                                                            const std::string& cert_file,
                                                            const std::string& key_file);

// A TLS server context for clients' connections, from the client_tls_* keys:
// certificate and key, trusted CAs for client certificates, protocol range
// and ciphers. A client offering ALPN must offer `alpn` (refused otherwise,
// as PostgreSQL 17 does). Throws std::runtime_error naming the key or file.
std::shared_ptr<asio::ssl::context> make_server_tls_context(const ClientTls& tls,
                                                            const std::string& alpn);

}  // namespace pgw::net

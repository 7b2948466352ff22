// Opening a server connection: TCP connect, TLS as sslmode says (SSLRequest,
// handshake, certificate checks), StartupMessage, authentication (cleartext,
// MD5, SCRAM-SHA-256[-PLUS]) within what require_auth and channel_binding
// allow, then ParameterStatus/BackendKeyData until ReadyForQuery. Bounded by
// server_connect_timeout and server_login_timeout (which covers TLS).
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "pgwarden/net/socket_opts.hpp"
#include "pgwarden/pool/login.hpp"
#include "pgwarden/wire/auth.hpp"
#include "pgwarden/wire/codec.hpp"

namespace pgw::pool {

using namespace boost::asio::experimental::awaitable_operators;
using asio::use_awaitable;

std::string lower_key(std::string_view key) {
  std::string r(key);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

asio::awaitable<void> read_more(ServerConn& s) {
  char buf[16384];
  size_t n = co_await s.stream.async_read_some(asio::buffer(buf), use_awaitable);
  s.rbuf.append(buf, n);
  s.bytes_in += n;
}

namespace {

constexpr uint32_t kMaxServerMessage = 1u << 30;

ProxyError login_failure(const PoolSettings& ps, const wire::ErrorFields& e) {
  return ProxyError(e.sqlstate.empty() ? sqlstate::kCannotConnect : e.sqlstate, e.message,
                    "server_login_failed", "server", 0,
                    fmt::format("pgwarden could not log in to server {}:{} as user \"{}\"", ps.host,
                                ps.port, ps.server_user));
}

asio::awaitable<void> send(ServerConn& s, const std::string& out) {
  co_await asio::async_write(s.stream, asio::buffer(out), use_awaitable);
  s.bytes_out += out.size();
}

ProxyError tls_error(const PoolSettings& ps, std::string reason, std::string message) {
  return ProxyError(sqlstate::kCannotConnect,
                    fmt::format("TLS with server {}:{} failed: {}", ps.host, ps.port, message),
                    "server_tls_" + reason, "server");
}

// SSLRequest, then the handshake if the server agrees (libpq's sslmode rules:
// prefer goes on in plaintext after 'N', require and stronger do not).
asio::awaitable<void> negotiate_tls(ServerConn& s, const PoolSettings& ps,
                                    std::shared_ptr<asio::ssl::context> tls) {
  std::string request;
  wire::put_u32(request, 8);
  wire::put_u32(request, 80877103);
  co_await asio::async_write(s.stream.socket(), asio::buffer(request), use_awaitable);
  // Exactly one byte: anything the server sent after it must go through TLS.
  char answer = 0;
  co_await asio::async_read(s.stream.socket(), asio::buffer(&answer, 1), use_awaitable);
  const SslMode mode = ps.tls.sslmode;
  if (answer == 'N') {
    if (mode >= SslMode::require)
      throw tls_error(
          ps, "refused",
          fmt::format("the server does not accept TLS, and sslmode is {}", to_string(mode)));
    co_return;
  }
  if (answer != 'S')
    throw ProxyError(sqlstate::kProtocolViolation,
                     fmt::format("server answered the SSLRequest with '{}'", answer),
                     "server_protocol_violation", "server");
  // libpq verifies the chain for verify-ca/verify-full, and for any mode
  // when a root certificate file is given.
  net::TlsVerify verify = net::TlsVerify::none;
  if (mode == SslMode::verify_full)
    verify = net::TlsVerify::full;
  else if (mode == SslMode::verify_ca || !ps.tls.sslrootcert.empty())
    verify = net::TlsVerify::ca;
  try {
    co_await s.stream.handshake_client(tls, ps.host, verify, ps.tls.sslsni);
  } catch (const net::TlsHandshakeError& e) {
    throw tls_error(ps, e.failure.reason, e.failure.message);
  }
}

bool auth_allowed(const PoolSettings& ps, std::string_view method) {
  const auto& allowed = ps.tls.require_auth;
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), method) != allowed.end();
}

ProxyError downgrade(const PoolSettings& ps, const std::string& what) {
  return ProxyError(sqlstate::kInvalidAuthorization,
                    fmt::format("server {}:{} {}", ps.host, ps.port, what), "server_auth_downgrade",
                    "server");
}

// What require_auth names the method a request asks for.
const char* auth_method_name(uint32_t code) {
  switch (code) {
    case 3:
      return "password";
    case 5:
      return "md5";
    case 10:
      return "scram-sha-256";
    default:
      return nullptr;
  }
}

// "SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0" offers `name`?
bool offers_mechanism(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    auto end = list.find('\0');
    if (list.substr(0, end) == name) return true;
    if (end == std::string_view::npos) break;
    list.remove_prefix(end + 1);
  }
  return false;
}

// The server asks for `method` and pgwarden holds no form of the password
// that answers it.
ProxyError password_unavailable(const PoolSettings& ps, std::string_view method,
                                std::string_view holds, std::string_view remedy) {
  return ProxyError(sqlstate::kInvalidPassword,
                    fmt::format("server {}:{} asks for {} authentication, and pgwarden holds {} "
                                "for user \"{}\": {}",
                                ps.host, ps.port, method, holds, ps.server_user, remedy),
                    "server_password_unavailable", "proxy");
}

constexpr std::string_view kOnlyScram = "only a SCRAM secret";
constexpr std::string_view kGivePassword =
    "give the password in the config (password, password_env or password_file)";

// The ScramClient for a pool: with the password, else with the keys a
// client's SCRAM login lent (pass-through).
std::unique_ptr<wire::ScramClient> scram_client_for(const PoolSettings& ps,
                                                    const std::string& stored) {
  switch (secret_kind(stored)) {
    case SecretKind::none:
    case SecretKind::plaintext:
      return std::make_unique<wire::ScramClient>(stored);
    case SecretKind::md5:
      throw password_unavailable(ps, "SCRAM-SHA-256", "only an md5 hash",
                                 fmt::format("{}, or the SCRAM secret from the server's "
                                             "pg_authid (pg_shadow) in auth_file",
                                             kGivePassword));
    case SecretKind::scram:
      break;
  }
  auto keys = ps.learned ? ps.learned->scram_keys() : std::nullopt;
  if (!keys)
    throw password_unavailable(
        ps, "SCRAM-SHA-256", kOnlyScram,
        "no client of this user has logged in with SCRAM yet to lend its keys (SCRAM "
        "pass-through needs auth_type = scram-sha-256 or cleartext)");
  return std::make_unique<wire::ScramClient>(std::move(*keys));
}

asio::awaitable<void> authenticate_and_wait_ready(ServerConn& s, const PoolSettings& ps,
                                                  const StartupParams* extra) {
  std::string out;
  std::vector<std::pair<std::string, std::string>> params = {{"user", ps.server_user},
                                                             {"database", ps.server_dbname}};
  bool named = false;
  if (extra)
    for (const auto& [k, v] : *extra) {
      if (k == "user" || k == "database") continue;  // always the pool's server credentials
      named = named || k == "application_name";
      params.emplace_back(k, v);
    }
  if (!named) params.emplace_back("application_name", "pgwarden");
  wire::startup_message(out, params);
  co_await send(s, out);
  const std::string stored = ps.stored_secret();
  std::unique_ptr<wire::ScramClient> scram;
  bool scram_verified = false, channel_bound = false, asked_for_auth = false;
  for (;;) {
    wire::Frame f;
    auto st = wire::next_frame(s.rbuf, kMaxServerMessage, f);
    if (st == wire::FrameStatus::bad_length)
      throw ProxyError(sqlstate::kProtocolViolation, "invalid message length from server",
                       "server_protocol_violation", "server");
    if (st == wire::FrameStatus::need_more) {
      co_await read_more(s);
      continue;
    }
    out.clear();
    switch (f.type) {
      case 'R': {
        uint32_t code = 0;
        std::string_view data;
        if (!wire::parse_auth_request(f.body, code, data))
          throw ProxyError(sqlstate::kProtocolViolation, "malformed authentication request",
                           "server_protocol_violation", "server");
        if (code == 0) {
          // AuthenticationOk: refused when it skips what was required.
          if (scram && !scram_verified)
            throw downgrade(ps,
                            "sent AuthenticationOk before SCRAM's final message: it never "
                            "proved it knows the password");
          if (!asked_for_auth && !auth_allowed(ps, "none"))
            throw downgrade(ps, "asked for no authentication, which require_auth does not allow");
          if (ps.tls.channel_binding == "require" && !channel_bound)
            throw downgrade(ps,
                            "authenticated pgwarden without channel binding, and "
                            "channel_binding = require");
          break;
        }
        asked_for_auth = true;
        if (const char* method = auth_method_name(code); method && !auth_allowed(ps, method))
          throw downgrade(ps, fmt::format("asked for {} authentication, which require_auth does "
                                          "not allow",
                                          method));
        const SecretKind kind = secret_kind(stored);
        if (kind == SecretKind::none && (code == 3 || code == 5 || code == 10))
          throw password_unavailable(ps,
                                     code == 3   ? "cleartext password"
                                     : code == 5 ? "md5"
                                                 : "SCRAM-SHA-256",
                                     "no password", kGivePassword);
        if (code == 3) {
          if (kind == SecretKind::md5 || kind == SecretKind::scram)
            throw password_unavailable(ps, "cleartext password",
                                       kind == SecretKind::md5 ? "only an md5 hash" : kOnlyScram,
                                       kGivePassword);
          wire::password_message(out, stored);
        } else if (code == 5 && data.size() == 4) {
          if (kind == SecretKind::scram)
            throw password_unavailable(
                ps, "md5", kOnlyScram,
                fmt::format("{}, or an md5 hash in auth_file", kGivePassword));
          wire::password_message(out, wire::md5_response(ps.server_user, stored, data));
        } else if (code == 10) {
          const bool plus = s.stream.tls() && ps.tls.channel_binding != "disable" &&
                            offers_mechanism(data, "SCRAM-SHA-256-PLUS");
          if (!plus && !offers_mechanism(data, "SCRAM-SHA-256"))
            throw ProxyError(sqlstate::kFeatureNotSupported,
                             "server offers no SASL mechanism pgwarden supports",
                             "server_login_failed", "server");
          if (!plus && ps.tls.channel_binding == "require")
            throw downgrade(ps, s.stream.tls() ? "offers no SCRAM-SHA-256-PLUS, and "
                                                 "channel_binding = require"
                                               : "is not using TLS, and channel_binding = require");
          scram = scram_client_for(ps, stored);
          if (plus) {
            const std::string end_point = s.stream.server_end_point();
            if (end_point.empty())
              throw tls_error(ps, "handshake_failed",
                              "no server certificate to bind the SCRAM exchange to");
            scram->bind_channel('p', end_point);
            channel_bound = true;
          } else if (s.stream.tls() && ps.tls.channel_binding != "disable") {
            scram->bind_channel('y');  // could bind; the server offered no -PLUS
          }
          wire::sasl_initial_response(out, plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256",
                                      scram->client_first());
        } else if (code == 11 && scram) {
          std::string final_msg, err;
          if (!scram->on_server_first(data, final_msg, err)) {
            if (scram->secret_mismatch())
              throw ProxyError(
                  sqlstate::kInvalidPassword,
                  fmt::format("server {}:{} stores another SCRAM secret for user \"{}\" than "
                              "pgwarden holds (salt or iteration count differ): copy the "
                              "secret from the server's pg_authid.rolpassword "
                              "(pg_shadow.passwd) into auth_file",
                              ps.host, ps.port, ps.server_user),
                  "server_scram_secret_mismatch", "proxy");
            throw ProxyError(sqlstate::kInvalidPassword, err, "server_login_failed", "server");
          }
          wire::sasl_response(out, final_msg);
        } else if (code == 12 && scram) {
          std::string err;
          if (!scram->verify_server_final(data, err))
            throw ProxyError(sqlstate::kInvalidPassword, err, "server_login_failed", "server");
          scram_verified = true;
        } else {
          throw ProxyError(sqlstate::kFeatureNotSupported,
                           fmt::format("server requested authentication method {} that pgwarden "
                                       "does not support",
                                       code),
                           "server_login_failed", "server");
        }
        break;
      }
      case 'S': {
        std::string_view k, v;
        if (wire::parse_parameter_status(f.body, k, v)) {
          s.params[lower_key(k)] = std::string(v);
          s.defaults[lower_key(k)] = std::string(v);
          s.greeting[std::string(k)] = std::string(v);
        }
        break;
      }
      case 'K':
        wire::parse_backend_key_data(f.body, s.backend_pid, s.backend_key);
        break;
      case 'E': {
        wire::ErrorFields e;
        wire::parse_error_fields(f.body, e);
        throw login_failure(ps, e);
      }
      case 'Z':  // the link starts idle: a fresh LinkState
        s.rbuf.erase(0, f.size);
        co_return;
      default:  // NoticeResponse, NegotiateProtocolVersion: nothing to do
        break;
    }
    s.rbuf.erase(0, f.size);
    if (!out.empty()) co_await send(s, out);
  }
}

// The login as a value: asio's `a || b` waits for the first to *succeed*, so a
// login that fails by throwing would otherwise be reported as its timeout.
asio::awaitable<std::optional<ProxyError>> login_outcome(ServerConn& s, const PoolSettings& ps,
                                                         std::shared_ptr<asio::ssl::context> tls,
                                                         const StartupParams* extra) {
  try {
    if (tls) co_await negotiate_tls(s, ps, tls);
    co_await authenticate_and_wait_ready(s, ps, extra);
  } catch (const ProxyError& e) {
    co_return e;
  } catch (const boost::system::system_error& e) {
    co_return ProxyError(sqlstate::kCannotConnect,
                         fmt::format("server {}:{} closed the connection during login: {}", ps.host,
                                     ps.port, e.code().message()),
                         "server_login_failed", "server", e.code().value());
  }
  co_return std::nullopt;
}

}  // namespace

namespace {
// `tls` null: plaintext.
asio::awaitable<void> connect_and_login_once(ServerConn& s, const PoolSettings& ps,
                                             std::shared_ptr<asio::ssl::context> tls,
                                             const StartupParams* extra);
}  // namespace

asio::awaitable<void> connect_and_login(ServerConn& s, const PoolSettings& ps,
                                        std::shared_ptr<asio::ssl::context> tls,
                                        const StartupParams* extra) {
  const SslMode mode = ps.tls.sslmode;
  if (!tls && mode != SslMode::disable)
    throw ProxyError(sqlstate::kCannotConnect,
                     "no TLS context for sslmode " + std::string(to_string(mode)),
                     "server_tls_handshake_failed", "proxy");
  // Arguments of co_await calls are named locals, never `?:` temporaries:
  // GCC 12 destroys such a temporary twice (a shared_ptr released twice).
  if (mode != SslMode::allow) {
    std::shared_ptr<asio::ssl::context> first;
    if (mode != SslMode::disable) first = tls;
    co_await connect_and_login_once(s, ps, first, extra);
    co_return;
  }
  // allow: plaintext first; TLS only if the server refuses the plaintext
  // login (pg_hba's hostssl rules answer 28000).
  std::optional<ProxyError> plain_failure;
  try {
    const std::shared_ptr<asio::ssl::context> plaintext;
    co_await connect_and_login_once(s, ps, plaintext, extra);
  } catch (const ProxyError& e) {
    if (e.sqlstate != sqlstate::kInvalidAuthorization) throw;
    plain_failure = e;
  }
  if (!plain_failure) co_return;
  boost::system::error_code ec;
  s.stream.socket().close(ec);
  s.rbuf.clear();
  s.params.clear();
  s.defaults.clear();
  s.greeting.clear();
  co_await connect_and_login_once(s, ps, tls, extra);
}

namespace {
asio::awaitable<void> connect_and_login_once(ServerConn& s, const PoolSettings& ps,
                                             std::shared_ptr<asio::ssl::context> tls,
                                             const StartupParams* extra) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  asio::steady_timer timer(ex);
  boost::system::error_code ec;
  auto endpoints = co_await resolver.async_resolve(ps.host, std::to_string(ps.port),
                                                   asio::redirect_error(use_awaitable, ec));
  if (ec)
    throw ProxyError(sqlstate::kCannotConnect,
                     fmt::format("could not resolve server host \"{}\": {}", ps.host, ec.message()),
                     "server_connect_failed", "network", ec.value());
  timer.expires_after(ps.timeouts.server_connect);
  auto connected = co_await (
      asio::async_connect(s.stream.socket(), endpoints, asio::redirect_error(use_awaitable, ec)) ||
      timer.async_wait(use_awaitable));
  if (connected.index() == 1)
    throw ProxyError(sqlstate::kCannotConnect,
                     fmt::format("could not connect to server {}:{} within server_connect_timeout "
                                 "({})",
                                 ps.host, ps.port, format_duration(ps.timeouts.server_connect)),
                     "server_connect_timeout", "network", ETIMEDOUT);
  if (ec)
    throw ProxyError(
        sqlstate::kCannotConnect,
        fmt::format("could not connect to server {}:{}: {}", ps.host, ps.port, ec.message()),
        "server_connect_failed", "network", ec.value());
  s.backend = fmt::format("{}:{}", ps.host, ps.port);
  if (auto local = s.stream.socket().local_endpoint(ec); !ec) {
    s.local_addr = local.address().to_string();
    s.local_port = local.port();
  }
  s.remote = s.stream.socket().remote_endpoint(ec);
  net::apply_tcp_options(s.stream.socket().native_handle(), ps.keepalive);
  timer.expires_after(ps.timeouts.server_login);
  auto logged_in = co_await (login_outcome(s, ps, tls, extra) || timer.async_wait(use_awaitable));
  if (logged_in.index() == 1)
    throw ProxyError(sqlstate::kCannotConnect,
                     fmt::format("server {}:{} did not complete login within server_login_timeout "
                                 "({})",
                                 ps.host, ps.port, format_duration(ps.timeouts.server_login)),
                     "server_login_timeout", "server");
  if (auto failure = std::get<0>(logged_in)) throw *failure;
  s.tls = s.stream.tls_description();
  s.query_deadline = ps.timeouts.internal_query;
  s.created = s.last_used = SteadyClock::now();
  s.connected_at = std::chrono::system_clock::now();
}

// Writes `out` (a simple Query, or `requests` of the extended protocol up to
// Sync) and reads the answers to ReadyForQuery.
asio::awaitable<bool> round_trip(ServerConn& s, std::string out,
                                 std::vector<wire::LinkRequest::Kind> requests,
                                 std::string& failure, std::vector<std::string>* first_row) {
  try {
    co_await send(s, out);
    if (requests.empty()) s.link.sent_internal_query();
    for (auto kind : requests) s.link.sent({kind});
    bool ok = true;
    std::string unseen;  // the state machine's client-bound output: nobody's
    for (;;) {
      wire::Frame f;
      auto st = wire::next_frame(s.rbuf, kMaxServerMessage, f);
      if (st == wire::FrameStatus::bad_length) {
        failure = "invalid message length from server";
        co_return false;
      }
      if (st == wire::FrameStatus::need_more) {
        co_await read_more(s);
        continue;
      }
      s.link.received(f, unseen);
      unseen.clear();
      if (f.type == 'E') {
        wire::ErrorFields e;
        wire::parse_error_fields(f.body, e);
        failure = fmt::format("{} ({})", e.message, e.sqlstate);
        ok = false;
        if (e.severity == "FATAL" || e.severity == "PANIC") {
          s.rbuf.erase(0, f.size);
          co_return false;
        }
      } else if (f.type == 'S') {
        std::string_view k, v;
        if (wire::parse_parameter_status(f.body, k, v)) s.params[lower_key(k)] = std::string(v);
      } else if (f.type == 'D') {
        if (first_row && first_row->empty()) *first_row = wire::parse_data_row(f.body);
      } else if (f.type == 'Z') {
        s.rbuf.erase(0, f.size);
        co_return ok&& s.link.idle();
      }
      s.rbuf.erase(0, f.size);
    }
  } catch (const boost::system::system_error& e) {
    failure = e.code().message();
    co_return false;
  }
}

// "SELECT", "DISCARD"...: names the query in a message without its text.
std::string command_word(std::string_view sql) {
  size_t start = sql.find_first_not_of(" \t\r\n(");
  if (start == std::string_view::npos) return "empty query";
  size_t end = start;
  while (end < sql.size() && std::isalpha(static_cast<unsigned char>(sql[end]))) ++end;
  std::string word(sql.substr(start, end - start));
  for (auto& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return word.empty() ? "query" : word;
}
// round_trip within s.query_deadline (internal_query_timeout).
asio::awaitable<bool> bounded_round_trip(ServerConn& s, std::string out,
                                         std::vector<wire::LinkRequest::Kind> requests,
                                         std::string what, std::string& failure,
                                         std::vector<std::string>* first_row) {
  if (s.query_deadline.count() <= 0)
    co_return co_await round_trip(s, std::move(out), std::move(requests), failure, first_row);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(s.query_deadline);
  // round_trip never throws, so `||` ends with whichever finishes first and
  // cancels the other (a pending read is aborted).
  auto done = co_await (round_trip(s, std::move(out), std::move(requests), failure, first_row) ||
                        timer.async_wait(use_awaitable));
  if (done.index() == 0) co_return std::get<0>(done);
  s.query_timed_out = true;
  failure = fmt::format(
      "the server did not answer an internal query ({}) within "
      "internal_query_timeout ({})",
      what, format_duration(s.query_deadline));
  co_return false;
}
}  // namespace

asio::awaitable<bool> run_simple_query(ServerConn& s, std::string sql, std::string& failure,
                                       std::vector<std::string>* first_row) {
  std::string out;
  wire::query(out, sql);
  std::vector<wire::LinkRequest::Kind> requests;  // a simple Query
  std::string what = command_word(sql);
  co_return co_await bounded_round_trip(s, std::move(out), std::move(requests), std::move(what),
                                        failure, first_row);
}

asio::awaitable<bool> run_param_query(ServerConn& s, const std::string& sql,
                                      const std::string& param, std::string& failure,
                                      std::vector<std::string>& first_row) {
  using K = wire::LinkRequest;
  std::string out, rest = sql;
  rest.push_back('\0');
  wire::put_u16(rest, 0);  // no parameter types: the server infers them
  wire::parse(out, "", rest);
  std::string bind_rest;
  wire::put_u16(bind_rest, 0);  // every parameter in text format
  wire::put_u16(bind_rest, 1);
  wire::put_u32(bind_rest, static_cast<uint32_t>(param.size()));
  bind_rest.append(param);
  wire::put_u16(bind_rest, 0);  // results in text format
  wire::bind(out, "", "", bind_rest);
  wire::execute(out, "");
  wire::sync(out);
  // Named locals, not braced temporaries: GCC 12 cannot keep those across co_await.
  std::vector<K::Kind> requests{K::parse, K::bind, K::execute, K::sync};
  std::string what = command_word(sql);
  co_return co_await bounded_round_trip(s, std::move(out), std::move(requests), std::move(what),
                                        failure, &first_row);
}

}  // namespace pgw::pool

// Client startup: SSL/GSS negotiation answers, cancel requests, the startup
// packet, client authentication (trust, cleartext, md5, SCRAM-SHA-256) and
// the greeting (ParameterStatus, BackendKeyData, ReadyForQuery).
#include <boost/asio/connect.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pgwarden/pool/cancel.hpp"
#include "pgwarden/proxy/login_policy.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"
#include "pgwarden/wire/auth.hpp"

namespace pgw::proxy {

using asio::use_awaitable;

namespace {
constexpr uint32_t kMaxAuthMessage = 8192;
// How long a connection refused at accept (client limits) may take to send
// its startup packet: a cancel request still goes through, and the client
// reads the FATAL instead of losing it to a reset.
constexpr std::chrono::seconds kRefusalGrace{1};

std::string startup_database(const wire::StartupPacket& pkt) {
  const std::string* db = pkt.param("database");
  const std::string* user = pkt.param("user");
  if (db && !db->empty()) return *db;
  return user ? *user : std::string();
}
}  // namespace

asio::awaitable<bool> Session::read_startup(wire::StartupPacket& pkt) {
  char buf[4096];
  if (!co_await accept_direct_tls()) co_return false;
  for (;;) {
    pkt = {};
    auto r = wire::parse_startup(cbuf_, pkt);
    if (r.status == wire::StartupStatus::need_more) {
      size_t n = co_await client_.async_read_some(asio::buffer(buf), use_awaitable);
      bytes_in_ += n;
      cbuf_.append(buf, n);
      continue;
    }
    if (r.status != wire::StartupStatus::ok) {
      const bool version = r.status == wire::StartupStatus::unsupported_version;
      co_await send_fatal_and_close(
          version ? sqlstate::kFeatureNotSupported : sqlstate::kProtocolViolation, r.error,
          version ? "unsupported_protocol" : "protocol_violation");
      co_return false;
    }
    cbuf_.erase(0, r.consumed);
    if (pkt.kind == wire::StartupKind::ssl_request) {
      if (!co_await answer_ssl_request()) co_return false;
      continue;
    }
    if (pkt.kind == wire::StartupKind::gss_request) {
      // No GSS encryption: 'N' tells the client to try TLS or plaintext.
      co_await client_out_.send("N");
      continue;
    }
    co_return true;
  }
}

asio::awaitable<void> Session::handle_cancel_request(const wire::StartupPacket& pkt) {
  auto target_session = proxy_.find_session(pkt.cancel_pid);
  std::optional<CancelTarget> target;
  if (target_session && target_session->cancel_key() == pkt.cancel_key)
    target = target_session->claim_cancel_target();
  end_with("cancel_request", "client");
  if (!target) co_return;  // nothing running, or a wrong key: ignored, as PostgreSQL does
  std::string failure = co_await pool::send_cancel(target->server->remote, target->pid, target->key,
                                                   proxy_.config().timeouts.cancel_wait);
  target->server->cancels_in_flight.fetch_sub(1);
  if (!failure.empty())
    spdlog::warn("could not forward cancel request to {}: {}", target->server->backend, failure);
}

asio::awaitable<bool> Session::read_password_message(std::string& body) {
  char buf[4096];
  for (;;) {
    wire::Frame f;
    auto st = wire::next_frame(cbuf_, kMaxAuthMessage, f);
    if (st == wire::FrameStatus::bad_length) {
      co_await send_fatal_and_close(sqlstate::kProtocolViolation,
                                    "invalid message length during authentication",
                                    "protocol_violation");
      co_return false;
    }
    if (st == wire::FrameStatus::ok) {
      if (f.type != 'p') {
        co_await send_fatal_and_close(
            sqlstate::kProtocolViolation,
            fmt::format("expected password response, got message type \"{}\"",
                        std::isprint(static_cast<unsigned char>(f.type)) ? f.type : '?'),
            "protocol_violation");
        co_return false;
      }
      body.assign(f.body);
      cbuf_.erase(0, f.size);
      co_return true;
    }
    size_t n = co_await client_.async_read_some(asio::buffer(buf), use_awaitable);
    bytes_in_ += n;
    cbuf_.append(buf, n);
  }
}

asio::awaitable<bool> Session::authenticate() {
  const ProxyConfig& cfg = proxy_.config();
  // Decided now, told only after the password exchange: an unknown database
  // or user looks exactly like a wrong password.
  std::optional<LoginRefusal> refusal = login_refusal(cfg, user_, database_);
  std::optional<std::string> queried;  // from auth_query, for a user the config does not list
  if (!co_await query_unlisted_user(refusal, queried)) co_return false;
  std::optional<wire::ScramKeys> keys;  // what a SCRAM verifier and the client's proof give
  std::string out;
  auto fail = [&]() -> asio::awaitable<bool> {
    if (refusal)
      end_with(refusal->cause, "proxy", sqlstate::kInvalidPassword, refusal->message, 0,
               "disconnected");
    co_await send_fatal_and_close(sqlstate::kInvalidPassword, auth_failed_message(user_),
                                  "auth_failed");
    co_return false;
  };
  auto user_it = cfg.users.find(user_);
  const std::string* stored = queried                                  ? &*queried
                              : !refusal && user_it != cfg.users.end() ? &user_it->second.password
                                                                       : nullptr;
  if (!co_await check_client_certificate()) co_return false;
  switch (cfg.auth_type) {
    case ClientAuth::trust:
    case ClientAuth::cert:  // the certificate's name was checked above
      if (refusal) co_return co_await fail();
      break;
    case ClientAuth::cleartext: {
      wire::auth_cleartext(out);
      co_await client_out_.send(out);
      std::string body;
      if (!co_await read_password_message(body)) co_return false;
      std::string given(body.c_str());
      bool ok = false;
      if (stored) {
        if (auto secret = wire::ScramSecret::parse(*stored)) {
          keys = wire::scram_keys_for_password(*secret, given);
          ok = keys.has_value();
        } else if (wire::is_md5_hash(*stored)) {
          ok = wire::constant_time_equal(wire::md5_hash(user_, given), *stored);
        } else {
          ok = wire::password_equal(given, *stored);
        }
      }
      if (!ok) co_return co_await fail();
      break;
    }
    case ClientAuth::md5: {
      std::string salt = wire::random_bytes(4);
      wire::auth_md5(out, salt.data());
      co_await client_out_.send(out);
      std::string body;
      if (!co_await read_password_message(body)) co_return false;
      if (!stored || wire::ScramSecret::parse(*stored) ||
          !wire::constant_time_equal(body.c_str(), wire::md5_response(user_, *stored, salt)))
        co_return co_await fail();
      break;
    }
    case ClientAuth::scram_sha_256: {
      // A listed user is always offered its own salt, even when the login is
      // refused for another reason (unknown database): comparing attempts
      // reveals nothing. Unknown users get a mock verifier with a salt that
      // is stable per name, and go through the whole exchange too.
      auto secret = queried ? wire::ScramSecret::parse(*queried) : proxy_.scram_secret(user_);
      wire::ScramServer scram(secret ? *secret : proxy_.scram_mock(user_));
      wire::auth_sasl(out, "SCRAM-SHA-256");
      co_await client_out_.send(out);
      std::string body;
      if (!co_await read_password_message(body)) co_return false;
      size_t pos = 0;
      std::string_view mech;
      if (!wire::read_cstring(body, pos, mech) || mech != "SCRAM-SHA-256" ||
          pos + 4 > body.size()) {
        co_await send_fatal_and_close(sqlstate::kProtocolViolation,
                                      "client selected an invalid SASL authentication mechanism",
                                      "protocol_violation");
        co_return false;
      }
      std::string_view first = std::string_view(body).substr(pos + 4);
      std::string server_first, server_final, error;
      if (!scram.on_client_first(first, server_first, error)) {
        co_await send_fatal_and_close(sqlstate::kProtocolViolation, error, "protocol_violation");
        co_return false;
      }
      out.clear();
      wire::auth_sasl_continue(out, server_first);
      co_await client_out_.send(out);
      if (!co_await read_password_message(body)) co_return false;
      if (!scram.on_client_final(body, server_final, error) || !secret || refusal)
        co_return co_await fail();
      out.clear();
      wire::auth_sasl_final(out, server_final);
      co_await client_out_.send(out);
      keys = scram.keys();
      break;
    }
  }
  if (stored) remember_credentials(*stored, std::move(keys));
  proxy_.client_authenticated(id_);
  co_return true;
}

asio::awaitable<bool> Session::greet() {
  // New clients are greeted with the parameters of a real server login; the
  // first client of a pool waits for one.
  if (!pool_->has_welcome_params()) {
    pool::ServerPtr s = co_await acquire_server();
    if (!s) co_return false;
    SPDLOG_TRACE("client {} greet release", id_);
    pool_->release(std::move(s));
  }
  std::string out;
  wire::auth_ok(out);
  auto params = pool_->welcome_params();
  for (auto& [k, v] : params) {
    auto wanted = wanted_.find(pool::lower_key(k));
    wire::parameter_status(out, k, wanted != wanted_.end() ? wanted->second : v);
  }
  wire::backend_key_data(out, key_pid_, cancel_secret_);
  wire::ready_for_query(out, 'I');
  // Counted as open before the client can see ReadyForQuery: a client that
  // has connected is already in /metrics and /api/events.
  set_state(ClientState::idle);
  emit_client_event("client.open");
  co_await client_out_.send(out);
  co_return true;
}

asio::awaitable<bool> Session::login() {
  wire::StartupPacket pkt;
  if (auto limit = proxy_.refusal(id_)) {
    // Over a client limit since accept. The startup packet is still read,
    // briefly, for a cancel request or an operator reaching the console.
    asio::steady_timer grace(strand_);
    grace.expires_after(kRefusalGrace);
    grace.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ignored;
      self->client_.socket().cancel(ignored);
    });
    bool got = false;
    try {
      got = co_await read_startup(pkt);
    } catch (const boost::system::system_error&) {
    }
    grace.cancel();
    if (!got && ended_) co_return false;  // read_startup refused the packet itself
    if (got && pkt.kind == wire::StartupKind::cancel) {
      co_await handle_cancel_request(pkt);
      co_return false;
    }
    const bool console = got && startup_database(pkt) == proxy_.config().admin.console_database;
    if (!console || limit->cause != "max_client_conn" || !proxy_.admit_console(id_)) {
      if (got) {
        if (const std::string* user = pkt.param("user")) user_ = *user;
        database_ = startup_database(pkt);
      }
      co_await send_fatal_and_close(sqlstate::kTooManyConnections, limit->message, limit->cause);
      co_return false;
    }
  } else {
    bool got = false;
    try {
      got = co_await read_startup(pkt);
    } catch (const boost::system::system_error&) {
      // Gone before its startup packet (a port check, a scanner): the slot is
      // free before the socket is closed, so whoever saw it close can connect.
      proxy_.release_slot(id_);
      throw;
    }
    if (!got) co_return false;
  }
  if (pkt.kind == wire::StartupKind::cancel) {
    co_await handle_cancel_request(pkt);  // in plaintext too, as libpq sends them
    co_return false;
  }
  if (plaintext_refused()) {
    if (const std::string* user = pkt.param("user")) user_ = *user;
    database_ = startup_database(pkt);
    co_await send_fatal_and_close(
        sqlstate::kInvalidAuthorization,
        fmt::format("pgwarden accepts only TLS connections (client_tls_sslmode = {}); connect "
                    "with sslmode=require or stricter",
                    to_string(proxy_.config().client_tls.sslmode)),
        "client_tls_required");
    co_return false;
  }
  if (proxy_.draining()) {
    // Like a PostgreSQL server shutting down: clients back off on 57P03.
    co_await send_fatal_and_close(sqlstate::kCannotConnectNow,
                                  "the database system is shutting down (pgwarden is draining)",
                                  "proxy_shutdown");
    co_return false;
  }
  const std::string* user = pkt.param("user");
  if (!user || user->empty()) {
    co_await send_fatal_and_close(sqlstate::kInvalidAuthorization,
                                  "no PostgreSQL user name specified in startup packet",
                                  "protocol_violation");
    co_return false;
  }
  user_ = *user;
  database_ = startup_database(pkt);
  for (auto& [k, v] : pkt.params) {
    if (k == "replication") {
      replication_ = wire::parse_replication_mode(v);
      if (replication_ == wire::ReplicationMode::invalid) {
        co_await send_fatal_and_close(
            "22023", fmt::format("invalid value for parameter \"replication\": \"{}\"", v),
            "protocol_violation");
        co_return false;
      }
      continue;
    }
    if (k == "options") {
      if (!parse_options(v, wanted_)) {
        co_await send_fatal_and_close(
            sqlstate::kFeatureNotSupported,
            fmt::format("unsupported startup parameter options=\"{}\": only -c name=value "
                        "settings are supported",
                        v),
            "unsupported_startup_parameter");
        co_return false;
      }
      continue;
    }
    if (is_startup_control_key(k)) continue;
    if (!is_valid_guc_name(k)) {
      co_await send_fatal_and_close(sqlstate::kProtocolViolation,
                                    fmt::format("invalid startup parameter name \"{}\"", k),
                                    "protocol_violation");
      co_return false;
    }
    wanted_[pool::lower_key(k)] = v;
  }
  if (auto it = wanted_.find("application_name"); it != wanted_.end())
    app_name_ = it->second;
  else
    wanted_["application_name"] = "";  // as PostgreSQL shows it: not pgwarden's own
  startup_values_ = wanted_;
  if (replication_ == wire::ReplicationMode::physical)
    database_ = physical_replication_database(proxy_.config(), database_);
  if (database_ == proxy_.config().admin.console_database) {
    co_await serve_console();
    co_return false;
  }

  // The pool (and its metric series) exists only once a client of it has
  // authenticated: failed logins with made-up names leave nothing behind.
  if (!co_await authenticate()) co_return false;
  std::string st, err;
  pool_ = proxy_.pools().pool_for(database_, user_, st, err);
  if (!pool_) {
    co_await send_fatal_and_close(st, err, "unknown_database");
    co_return false;
  }
  mode_ = pool_->settings().mode;
  proxy_.logged_in_counter().fetch_add(1);
  counted_login_ = true;
  if (replication_ != wire::ReplicationMode::none) co_return co_await serve_replication();
  co_return co_await greet();
}

}  // namespace pgw::proxy

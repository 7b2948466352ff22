// A client session's lifecycle: start, end, the one close event, timeouts.
#include "pgwarden/proxy/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pgwarden/net/socket_opts.hpp"
#include "pgwarden/observe/ids.hpp"
#include "pgwarden/pool/cancel.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/wire/auth.hpp"

namespace pgw::proxy {

using asio::use_awaitable;

const char* to_string(ClientState s) {
  switch (s) {
    case ClientState::authenticating:
      return "authenticating";
    case ClientState::idle:
      return "idle";
    case ClientState::active:
      return "active";
    case ClientState::in_transaction:
      return "in_transaction";
    case ClientState::copy:
      return "copy";
    case ClientState::waiting_for_server:
      return "waiting_for_server";
  }
  return "unknown";
}

namespace {
int64_t now_ns() {
  return SteadyClock::now().time_since_epoch().count();
}
}  // namespace

Session::Session(Proxy& proxy, Strand strand, tcp::socket socket)
    : proxy_(proxy),
      strand_(std::move(strand)),
      client_(std::move(socket)),
      client_out_(client_),
      id_(observe::next_conn_id()) {
  auto secret = wire::random_bytes(4);
  cancel_secret_ = wire::read_u32(secret.data());
  last_client_io_ns_.store(now_ns());
}

void Session::set_state(ClientState s) {
  // Release: login's fields (user, database...) are visible to an admin view
  // that sees a state past authenticating.
  state_.store(s, std::memory_order_release);
}

ClientInfo Session::info() const {
  ClientInfo i;
  i.id = id_;
  i.key_pid = key_pid_;
  i.peer = peer_;
  i.local = local_;
  i.state = state_.load(std::memory_order_acquire);
  if (i.state != ClientState::authenticating) i.tls = tls_;
  if (i.state != ClientState::authenticating) {
    i.database = database_;
    i.user = user_;
    i.application_name = app_name_;
    i.pool = pool_ ? pool_->settings().key() : "";
  }
  const auto steady_now = SteadyClock::now();
  const auto wall_now = std::chrono::system_clock::now();
  auto wall = [&](SteadyClock::time_point t) {
    return wall_now -
           std::chrono::duration_cast<std::chrono::system_clock::duration>(steady_now - t);
  };
  i.connected_at = wall(created_);
  i.last_request = wall(SteadyClock::time_point(SteadyClock::duration(last_client_io_ns_.load())));
  i.server_id = linked_server_.load(std::memory_order_relaxed);
  i.wait_started = wall(SteadyClock::time_point(SteadyClock::duration(wait_started_ns_.load())));
  i.tx_status = tx_status_.load(std::memory_order_relaxed);
  if (i.state != ClientState::authenticating && repl_) i.replication = repl_->info();
  return i;
}

void Session::end_with(std::string cause, std::string initiator, std::string sqlstate,
                       std::string message, int err_no, std::string impact) {
  if (ended_) return;
  ended_ = true;
  end_cause_ = std::move(cause);
  end_initiator_ = std::move(initiator);
  end_sqlstate_ = std::move(sqlstate);
  end_message_ = std::move(message);
  end_errno_ = err_no;
  end_impact_ = std::move(impact);
}

asio::awaitable<void> Session::send_fatal_and_close(std::string sqlstate, std::string message,
                                                    std::string cause) {
  if (!cause.empty()) end_with(cause, "proxy", sqlstate, message, 0, "disconnected");
  std::string out;
  wire::error_response(out, {"FATAL", sqlstate, message});
  proxy_.count_error(sqlstate, "proxy");
  try {
    co_await client_out_.send(out);
  } catch (...) {
  }
  co_await close_client_after_flush();
}

asio::awaitable<void> Session::close_client_after_flush() {
  // A goodbye queued behind other output (another coroutine is writing) must
  // still reach the client: wait for the outbox, briefly, then close.
  try {
    co_await client_out_.flushed(std::chrono::milliseconds(2000));
  } catch (...) {
  }
  if (!client_out_.busy()) co_await client_.close_notify(std::chrono::milliseconds(250));
  boost::system::error_code ec;
  client_.socket().shutdown(tcp::socket::shutdown_both, ec);
  client_.socket().close(ec);
}

observe::ConnectionEvent Session::client_event(std::string event) const {
  observe::ConnectionEvent ev;
  ev.event = std::move(event);
  ev.conn_id = id_;
  ev.side = "client";
  ev.peer = peer_;
  ev.database = database_;
  ev.user = user_;
  ev.application_name = app_name_;
  ev.tls = tls_;
  if (pool_) ev.pool = pool_->settings().key();
  ev.state = to_string(state_.load());
  return ev;
}

void Session::emit_client_event(const char* event) {
  observe::ConnectionEvent ev = client_event(event);
  ev.age_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - created_).count();
  ev.idle_ms = (now_ns() - last_client_io_ns_.load()) / 1'000'000;
  if (std::string_view(event) == "client.close") {
    ev.initiator = end_initiator_;
    ev.cause = end_cause_;
    ev.sqlstate = end_sqlstate_;
    ev.message = end_message_;
    ev.err_no = end_errno_;
    ev.bytes_in = bytes_in_;
    ev.bytes_out = bytes_out_ + client_out_.written();
    ev.client_impact = end_impact_.empty() ? "none" : end_impact_;
  }
  if (repl_) fill_replication_fields(ev, *repl_);
  proxy_.bus().publish(ev);
}

asio::awaitable<void> Session::run() {
  auto self = shared_from_this();
  tcp::socket& sock = client_.socket();
  peer_ = net::peer_name(sock.native_handle());
  boost::system::error_code local_ec;
  if (auto local = sock.local_endpoint(local_ec); !local_ec)
    local_ = fmt::format("{}:{}", local.address().to_string(), local.port());
  net::apply_tcp_options(sock.native_handle(), proxy_.config().keepalive);
  key_pid_ = proxy_.register_session(self);
  try {
    if (co_await login()) co_await client_loop();
  } catch (const boost::system::system_error& e) {
    const auto code = e.code();
    if (code == asio::error::eof || code == asio::ssl::error::stream_truncated) {
      // (A TLS client that closes without close_notify has left all the same.)
      end_with("client_eof", "client");
    } else if (code == asio::error::operation_aborted || code == asio::error::bad_descriptor) {
      end_with("proxy_closed", "proxy");
    } else if (code.value() == ECONNRESET) {
      end_with("peer_reset", "client", "", code.message(), code.value());
    } else {
      end_with(net::errno_cause(code.value()), "network", "", code.message(), code.value());
    }
  }
  if (got_terminate_) end_with("client_terminate", "client");
  co_await finish();
}

asio::awaitable<void> Session::stop_server_reader() {
  auto ctl = reader_;
  if (!ctl || !ctl->running) co_return;
  // Detach first: a reader busy writing to the client then stops at its next
  // loop check instead of starting another read; a reader blocked in a read is
  // woken by the cancel.
  ctl->attached = false;
  boost::system::error_code ec;
  if (server_) server_->stream.socket().cancel(ec);
  co_await ctl->exit.async_wait(asio::redirect_error(use_awaitable, ec));
}

asio::awaitable<void> Session::finish() {
  if (end_cause_ == "cancel_request") {
    proxy_.unregister_session(key_pid_);
    co_return;
  }
  co_await stop_server_reader();
  if (auto s = std::move(server_)) {
    if (reader_) reader_->attached = false;
    server_.reset();
    unlink_server(*s);
    hand_back_after_departure(std::move(s));
  }
  boost::system::error_code ec;
  client_.socket().close(ec);
  proxy_.unregister_session(key_pid_);
  if (counted_login_) proxy_.logged_in_counter().fetch_sub(1);
  emit_client_event("client.close");
}

void Session::hand_back_after_departure(pool::ServerPtr s) {
  // What the link's state machine says the link is decides its fate: only a
  // provably idle link is lent again; nothing the client left half-done may
  // run for it or for anyone else.
  const auto& ps = pool_->settings();
  const std::string state = to_string(state_.load());
  const wire::LinkPhase phase = s->link.phase();
  const std::string left =
      fmt::format("client {} left ({})", id_, end_cause_.empty() ? "unknown" : end_cause_);
  // A proxy policy (query_timeout, KILL...) names itself; a client that left
  // on its own is named for what it left behind.
  auto cause_for = [&](const char* own) {
    return end_initiator_ == "proxy" ? end_cause_ : std::string(own);
  };
  wire::DepartureAction action = wire::on_client_departure(phase);
  if (s->cancels_in_flight.load() > 0 && action != wire::DepartureAction::cancel_and_close)
    action = wire::DepartureAction::close;  // a late cancel must not reach the next client
  switch (action) {
    case wire::DepartureAction::release:
    case wire::DepartureAction::rollback: {
      std::vector<std::string> cleanup;
      if (phase != wire::LinkPhase::idle) cleanup.push_back("ROLLBACK");
      if ((mode_ == PoolMode::session || ps.reset_query_always) && !ps.reset_query.empty())
        cleanup.push_back(ps.reset_query);
      else if (pinned_for_)
        cleanup.push_back("DISCARD ALL");  // LISTEN, temporary tables, locks... end here
      else if (settings_dirty_)
        cleanup.push_back("RESET ALL");  // settings never read back must not reach the next client
      if (cleanup.empty())
        pool_->release(std::move(s));
      else
        pool_->reset_then_release(std::move(s), std::move(cleanup), "reset_failed");
      return;
    }
    case wire::DepartureAction::cancel_and_close: {
      // The backend is still working for nobody: cancel it, then close the
      // link (its slot stays taken until then, so it cannot be lent).
      pool::CloseReason why{cause_for("client_gone_mid_request"),
                            "proxy",
                            "",
                            left + " while a request was running; the request was cancelled",
                            0,
                            state,
                            "none"};
      const auto bound = proxy_.config().timeouts.cancel_wait;
      asio::co_spawn(
          strand_,
          [pool = pool_, s = std::move(s), why = std::move(why), bound]() -> asio::awaitable<void> {
            std::string failure =
                co_await pool::send_cancel(s->remote, s->backend_pid, s->backend_key, bound);
            if (!failure.empty())
              spdlog::warn("cancel of backend {} on {} failed: {}", s->backend_pid, s->backend,
                           failure);
            pool->close(s, why);
          },
          asio::detached);
      return;
    }
    case wire::DepartureAction::close: {
      std::string cause = phase == wire::LinkPhase::broken ? "server_protocol_violation"
                          : phase == wire::LinkPhase::unsynced
                              ? cause_for("client_gone_unsynced")
                              : cause_for("client_gone_mid_request");
      std::string why = phase == wire::LinkPhase::broken || phase == wire::LinkPhase::unsynced
                            ? fmt::format("{} with the link {}: closed rather than lent", left,
                                          wire::to_string(phase))
                            : left +
                                  " while its cancel request was still on its way: closed "
                                  "rather than lent";
      pool_->close(s, {std::move(cause), "proxy", "", std::move(why), 0, state, "none"});
      return;
    }
  }
}

std::optional<CancelTarget> Session::claim_cancel_target() {
  // Under the same lock unlink_server() takes: a claim either precedes the
  // unlink (and the release sees it) or finds no target.
  std::lock_guard lock(cancel_mu_);
  if (cancel_target_) cancel_target_->server->cancels_in_flight.fetch_add(1);
  return cancel_target_;
}

bool Session::maybe_timed_out(SteadyClock::time_point now) const {
  const Timeouts& t = proxy_.config().timeouts;
  const auto state = state_.load(std::memory_order_relaxed);
  const auto idle =
      std::chrono::nanoseconds(now.time_since_epoch().count() - last_client_io_ns_.load());
  if (state == ClientState::authenticating)
    return t.client_login.count() > 0 && now - created_ >= t.client_login;
  if (request_in_flight_.load(std::memory_order_relaxed))
    return t.query.count() > 0 && std::chrono::nanoseconds(now.time_since_epoch().count() -
                                                           request_started_ns_.load()) >= t.query;
  if (tx_status_.load(std::memory_order_relaxed) != 'I')
    return t.idle_transaction.count() > 0 && idle >= t.idle_transaction;
  return t.client_idle.count() > 0 && idle >= t.client_idle;
}

void Session::check_timeouts() {
  asio::co_spawn(
      strand_,
      [self = shared_from_this()]() -> asio::awaitable<void> {
        if (self->ended_) co_return;
        const Timeouts& t = self->proxy_.config().timeouts;
        const auto now = SteadyClock::now();
        const auto idle = std::chrono::nanoseconds(now.time_since_epoch().count() -
                                                   self->last_client_io_ns_.load());
        const auto state = self->state_.load();
        std::string cause, sqlstate, message;
        if (state == ClientState::authenticating) {
          if (t.client_login.count() > 0 && now - self->created_ >= t.client_login) {
            cause = "client_login_timeout";
            sqlstate = sqlstate::kQueryCanceled;
            message = fmt::format(
                "pgwarden: client did not complete login within "
                "client_login_timeout ({})",
                format_duration(t.client_login));
          }
        } else if (self->server_ && self->server_->link.has_outstanding()) {
          auto running = std::chrono::nanoseconds(now.time_since_epoch().count() -
                                                  self->request_started_ns_.load());
          if (t.query.count() > 0 && running >= t.query) {
            cause = "query_timeout";
            sqlstate = sqlstate::kQueryCanceled;
            message = fmt::format(
                "pgwarden: query ran longer than query_timeout ({}); it was "
                "cancelled and its server connection closed",
                format_duration(t.query));
          }
        } else if (self->server_ && self->server_->link.tx_status() != 'I') {
          if (t.idle_transaction.count() > 0 && idle >= t.idle_transaction) {
            cause = "idle_transaction_timeout";
            sqlstate = sqlstate::kIdleInTransactionTimeout;
            message = fmt::format(
                "pgwarden: terminating connection idle in transaction longer "
                "than idle_transaction_timeout ({})",
                format_duration(t.idle_transaction));
          }
        } else if (t.client_idle.count() > 0 && idle >= t.client_idle) {
          cause = "client_idle_timeout";
          sqlstate = sqlstate::kIdleSessionTimeout;
          message = fmt::format(
              "pgwarden: closing client connection idle longer than "
              "client_idle_timeout ({})",
              format_duration(t.client_idle));
        }
        if (cause.empty()) co_return;
        co_await self->send_fatal_and_close(sqlstate, message, cause);
      },
      asio::detached);
}

void Session::terminate(std::string cause, std::string sqlstate, std::string message) {
  asio::co_spawn(
      strand_,
      [self = shared_from_this(), cause, sqlstate, message]() -> asio::awaitable<void> {
        if (self->ended_) co_return;
        co_await self->send_fatal_and_close(sqlstate, message, cause);
      },
      asio::detached);
}

}  // namespace pgw::proxy

namespace pgw::proxy {

void Session::end_if_idle(std::string cause, std::string sqlstate, std::string message) {
  asio::co_spawn(
      strand_,
      [self = shared_from_this(), cause, sqlstate, message]() -> asio::awaitable<void> {
        if (self->ended_) co_return;
        const ClientState st = self->state_.load();
        if (st == ClientState::authenticating || st == ClientState::waiting_for_server) co_return;
        if (self->server_ && !self->server_->link.idle()) co_return;
        co_await self->send_fatal_and_close(sqlstate, message, cause);
      },
      asio::detached);
}

}  // namespace pgw::proxy

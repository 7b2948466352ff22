// Replication connections (replication=database or physical): the client
// authenticates to pgwarden like any other, then gets a server link of its
// own, logged in with the pool's server credentials plus `replication` and
// the client's startup parameters, never pooled or lent to anyone else.
// Bytes are forwarded both ways unchanged (replication commands, CopyBoth,
// CopyData) while wire::ReplicationObserver watches them.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <cctype>

#include "pgwarden/net/socket_opts.hpp"
#include "pgwarden/pool/login.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/replication.hpp"
#include "pgwarden/proxy/session.hpp"

namespace pgw::proxy {

using asio::use_awaitable;

namespace {
int64_t now_ns() {
  return SteadyClock::now().time_since_epoch().count();
}

// Server bytes are forwarded up to the last complete message, so that a FATAL
// pgwarden adds later lands between messages. A message larger than this
// (walsender messages are at most 128 KiB) is forwarded as it arrives.
constexpr uint64_t kHoldLimit = 256 * 1024;

// A duration as SHOW prints it: "60s", "1min", "500ms", "0".
std::chrono::milliseconds parse_setting_ms(std::string_view v) {
  size_t i = 0;
  int64_t n = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])))
    n = n * 10 + (v[i++] - '0');
  const std::string_view unit = v.substr(i);
  int64_t mult = 1;
  if (unit == "s")
    mult = 1000;
  else if (unit == "min")
    mult = 60'000;
  else if (unit == "h")
    mult = 3'600'000;
  else if (unit == "d")
    mult = 86'400'000;
  return std::chrono::milliseconds(n * mult);
}

struct Pumps {
  explicit Pumps(Strand& st) : done(st, SteadyClock::time_point::max()) {}
  int running = 2;
  std::optional<ReplicationEnd> first;
  asio::steady_timer done;
};

ReplicationEnd io_end(const boost::system::system_error& e, bool server_side) {
  const auto code = e.code();
  ReplicationEnd r;
  r.server = server_side;
  r.initiator = server_side ? "server" : "client";
  if (code == asio::error::eof || code == asio::ssl::error::stream_truncated) {
    r.cause = server_side ? "server_eof" : "client_eof";
  } else if (code == asio::error::operation_aborted || code == asio::error::bad_descriptor) {
    r.cause = "proxy_closed";
    r.initiator = "proxy";
    r.server = false;
  } else if (code.value() == ECONNRESET && !server_side) {
    r.cause = "peer_reset";
    r.message = code.message();
    r.err_no = code.value();
  } else {
    r.cause = net::errno_cause(code.value());
    r.initiator = "network";
    r.message = code.message();
    r.err_no = code.value();
  }
  return r;
}
}  // namespace

pool::PoolSettings replication_target(const pool::Pool& pool) {
  // The host a new connection of this pool would go to. Switch here to "the
  // current writer" once the pool tracks one.
  pool::PoolSettings ps = pool.settings();
  ps.tls_context = pool.tls_context();
  return ps;
}

std::string physical_replication_database(const ProxyConfig& cfg, const std::string& database) {
  if (cfg.databases.count(database)) return database;
  std::string only;
  int n = 0;
  for (const auto& [name, db] : cfg.databases)
    if (name != cfg.admin.console_database) {
      only = name;
      ++n;
    }
  return n == 1 ? only : database;
}

void fill_replication_fields(observe::ConnectionEvent& ev, const ReplicationLink& link) {
  const ReplicationInfo info = link.info();
  ev.replication = info.mode;
  ev.replication_phase = wire::to_string(info.stats.phase);
  ev.replication_bytes_from_server = static_cast<int64_t>(info.stats.bytes_from_server);
  ev.replication_bytes_from_client = static_cast<int64_t>(info.stats.bytes_from_client);
  if (info.stats.server_wal_end)
    ev.replication_wal_end = wire::format_lsn(info.stats.server_wal_end);
  if (info.stats.flush_lsn) ev.replication_flush_lsn = wire::format_lsn(info.stats.flush_lsn);
}

asio::awaitable<ReplicationEnd> Session::replication_client_pump(pool::ServerPtr s) {
  auto& bytes = proxy_.metrics()
                    .counter("pgwarden_replication_bytes_total",
                             "Bytes forwarded on replication connections", {"pool", "direction"})
                    .with({pool_->settings().key(), "from_client"});
  char buf[16384];
  try {
    // What the client pipelined behind its startup packet goes first.
    std::string early = std::move(cbuf_);
    cbuf_.clear();
    if (!early.empty()) {
      repl_->on_client_bytes(early, now_ns());
      bytes.inc(early.size());
      co_await asio::async_write(s->stream, asio::buffer(early), use_awaitable);
    }
    for (;;) {
      size_t n = co_await client_.async_read_some(asio::buffer(buf), use_awaitable);
      bytes_in_ += n;
      last_client_io_ns_.store(now_ns());
      const std::string_view data(buf, n);
      repl_->on_client_bytes(data, now_ns());
      bytes.inc(n);
      // Awaited before the next read: a server that does not read holds the client.
      try {
        co_await asio::async_write(s->stream, asio::buffer(data), use_awaitable);
      } catch (const boost::system::system_error& e) {
        co_return io_end(e, true);
      }
      s->bytes_out += n;
    }
  } catch (const boost::system::system_error& e) {
    ReplicationEnd r = io_end(e, false);
    if (r.cause == "client_eof" && repl_->stats().client_terminated) r.cause = "client_terminate";
    co_return r;
  }
}

asio::awaitable<ReplicationEnd> Session::replication_server_pump(pool::ServerPtr s) {
  auto& bytes = proxy_.metrics()
                    .counter("pgwarden_replication_bytes_total",
                             "Bytes forwarded on replication connections", {"pool", "direction"})
                    .with({pool_->settings().key(), "from_server"});
  std::string pending = std::move(s->rbuf);  // read after the login's ReadyForQuery
  s->rbuf.clear();
  if (!pending.empty()) repl_->on_server_bytes(pending, now_ns());
  char buf[65536];
  try {
    for (;;) {
      const uint64_t partial = repl_->server_partial();
      size_t ready = pending.size();
      if (partial <= kHoldLimit) ready -= std::min<uint64_t>(partial, pending.size());
      if (ready > 0) {
        bytes.inc(ready);
        // Outbox::send returns once written: a client that does not read
        // holds the server's reads, nothing piles up here.
        try {
          co_await client_out_.send(std::string_view(pending).substr(0, ready));
        } catch (const boost::system::system_error& e) {
          co_return io_end(e, false);  // the client's side
        }
        pending.erase(0, ready);
      }
      size_t n = co_await s->stream.async_read_some(asio::buffer(buf), use_awaitable);
      s->bytes_in += n;
      const std::string_view data(buf, n);
      repl_->on_server_bytes(data, now_ns());
      pending.append(data);
    }
  } catch (const boost::system::system_error& e) {
    co_return io_end(e, true);
  }
}

asio::awaitable<bool> Session::serve_replication() {
  auto self = shared_from_this();
  const pool::PoolSettings ps = replication_target(*pool_);
  auto s = std::make_shared<pool::ServerConn>(asio::any_io_executor(strand_),
                                              proxy_.pools().next_server_id());
  // The client's own startup parameters go to the server as they came
  // (user and database are the pool's server credentials).
  pool::StartupParams extra = {
      {"replication", replication_ == wire::ReplicationMode::logical ? "database" : "true"}};
  for (const auto& [k, v] : startup_values_)
    if (!(k == "application_name" && v.empty())) extra.emplace_back(k, v);
  std::chrono::milliseconds sender_timeout{0};
  std::optional<ProxyError> failed;
  try {
    const std::shared_ptr<asio::ssl::context> tls = ps.tls_context;
    co_await pool::connect_and_login(*s, ps, tls, &extra);
    // Only to name a wal_sender_timeout end: SHOW is a replication command too.
    std::string failure;
    std::vector<std::string> row;
    if (co_await pool::run_simple_query(*s, "SHOW wal_sender_timeout", failure, &row) &&
        !row.empty())
      sender_timeout = parse_setting_ms(row[0]);
    else if (s->query_timed_out || !s->link.idle())
      throw ProxyError(sqlstate::kConnectionFailure,
                       fmt::format("replication server {} did not answer SHOW "
                                   "wal_sender_timeout: {}",
                                   s->backend, failure),
                       "server_login_failed", "server");
  } catch (const ProxyError& e) {
    failed = e;
  }
  if (failed) {
    boost::system::error_code ec;
    s->stream.socket().close(ec);
    end_with(failed->cause, failed->initiator, failed->sqlstate, failed->message, failed->err_no,
             "disconnected");
    const std::string sqlstate = failed->sqlstate, message = failed->message;
    co_await send_fatal_and_close(sqlstate, message, "");
    co_return false;
  }
  s->client_id.store(id_);
  repl_ = std::make_shared<ReplicationLink>(replication_);
  repl_->set_backend(s->backend, s->backend_pid);
  {
    std::lock_guard lock(cancel_mu_);
    cancel_target_ = CancelTarget{s, s->backend_pid, s->backend_key};
  }
  auto server_event = [&](const char* event) {
    observe::ConnectionEvent ev;
    ev.event = event;
    ev.conn_id = s->id;
    ev.side = "server";
    ev.backend = s->backend;
    ev.backend_pid = s->backend_pid;
    ev.database = database_;
    ev.user = user_;
    ev.application_name = app_name_;
    ev.pool = pool_->settings().key();
    ev.tls = s->tls;
    ev.state = "replication";
    fill_replication_fields(ev, *repl_);
    return ev;
  };
  proxy_.bus().publish(server_event("server.open"));

  std::string out;
  wire::auth_ok(out);
  for (const auto& [k, v] : s->greeting) wire::parameter_status(out, k, v);
  wire::backend_key_data(out, key_pid_, cancel_secret_);
  wire::ready_for_query(out, 'I');
  set_state(ClientState::active);
  emit_client_event("client.open");
  bool greeted = true;
  try {
    co_await client_out_.send(out);
  } catch (const boost::system::system_error&) {
    greeted = false;
  }

  if (greeted) {
    auto pumps = std::make_shared<Pumps>(strand_);
    auto finished = [self, pumps, s](std::exception_ptr ep, ReplicationEnd e) {
      if (ep) e = {"proxy_closed", "proxy", "", "replication pump failed", 0, false};
      if (!pumps->first) {
        pumps->first = std::move(e);
        // Wake the other pump: the client's read (the server pump, its only
        // writer, is done or the client is gone) and the server's.
        boost::system::error_code ec;
        s->stream.socket().cancel(ec);
        self->client_.socket().cancel(ec);
      }
      if (--pumps->running == 0) pumps->done.cancel();
    };
    asio::co_spawn(strand_, replication_client_pump(s),
                   [finished](std::exception_ptr ep, ReplicationEnd e) mutable {
                     finished(ep, std::move(e));
                   });
    asio::co_spawn(strand_, replication_server_pump(s),
                   [finished](std::exception_ptr ep, ReplicationEnd e) mutable {
                     finished(ep, std::move(e));
                   });
    boost::system::error_code ec;
    while (pumps->running > 0)
      co_await pumps->done.async_wait(asio::redirect_error(use_awaitable, ec));

    const wire::ReplicationStats st = repl_->stats();
    ReplicationEnd e = *pumps->first;
    spdlog::debug(
        "client {} replication ended: {} ({}, server side {}), phase {}, server fatal {}, "
        "wal_sender_timeout {} ms, already ended {}",
        id_, e.cause, e.initiator, e.server, wire::to_string(st.phase), st.server_fatal,
        sender_timeout.count(), ended_);
    if (st.server_fatal) {
      // Already forwarded to the client as the server sent it.
      end_with("server_fatal", "server", st.last_server_error.sqlstate,
               st.last_server_error.message, 0, "disconnected");
    } else if (st.client_terminated) {
      end_with("client_terminate", "client");
    } else if (e.server && e.initiator != "proxy") {
      // The server went away without a word: the client is told, with a
      // SQLSTATE clients back off and reconnect on, never a bare close.
      const auto silent =
          std::chrono::nanoseconds(now_ns() - std::max(st.last_client_message_ns, int64_t{1}));
      std::string why;
      if (e.cause == "server_eof" && sender_timeout.count() > 0 &&
          st.phase == wire::ReplicationPhase::copy_both &&
          silent + std::chrono::milliseconds(200) >= sender_timeout) {
        e.cause = "wal_sender_timeout";
        why = fmt::format(
            "the server ended the replication stream: no reply from the client within "
            "wal_sender_timeout ({} ms)",
            sender_timeout.count());
      } else if (e.cause == "server_eof") {
        why = "the server closed the replication connection without a message";
      } else {
        why = fmt::format("the replication connection to the server failed ({}: {})", e.cause,
                          e.message);
      }
      const std::string message = fmt::format("pgwarden: {} ({}); reconnect", why, s->backend);
      end_with(e.cause, e.initiator, sqlstate::kCannotConnectNow, message, e.err_no,
               "disconnected");
      if (st.server_at_boundary)
        co_await send_fatal_and_close(sqlstate::kCannotConnectNow, message, "");
    } else {
      end_with(e.cause, e.initiator, "", e.message, e.err_no);
    }
  } else {
    end_with("client_eof", "client");
  }
  repl_->on_end();
  {
    std::lock_guard lock(cancel_mu_);
    cancel_target_.reset();
  }
  s->client_id.store(0);
  boost::system::error_code ec;
  s->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  s->stream.socket().close(ec);
  observe::ConnectionEvent ev = server_event("server.close");
  ev.initiator = end_initiator_;
  ev.cause = end_cause_;
  ev.sqlstate = end_sqlstate_;
  ev.message = end_message_;
  ev.err_no = end_errno_;
  ev.bytes_in = s->bytes_in;
  ev.bytes_out = s->bytes_out;
  ev.age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - s->created)
                  .count();
  ev.client_impact = "disconnected";
  proxy_.bus().publish(ev);
  co_return false;
}

}  // namespace pgw::proxy

#include "pgwarden/pool/pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "pgwarden/net/socket_opts.hpp"
#include "pgwarden/observe/ids.hpp"
#include "pgwarden/pool/last_words.hpp"
#include "pgwarden/pool/login.hpp"
#include "pgwarden/wire/codec.hpp"

namespace pgw::pool {

using asio::use_awaitable;

namespace {
int64_t ms_since(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
}
}  // namespace

Pool::Pool(PoolManager& mgr, PoolSettings settings, asio::any_io_executor ex, PoolMetrics metrics)
    : mgr_(mgr),
      settings_(std::move(settings)),
      ex_(std::move(ex)),
      metrics_(metrics),
      tls_context_(settings_.tls_context) {}

bool Pool::can_open_locked(bool use_reserve) const {
  int limit = settings_.size + (use_reserve ? settings_.reserve_size : 0);
  if (slots_ >= limit) return false;
  if (settings_.max_db_connections > 0 &&
      mgr_.db_servers_[settings_.database] >= settings_.max_db_connections)
    return false;
  if (settings_.max_user_connections > 0 &&
      mgr_.user_servers_[settings_.user] >= settings_.max_user_connections)
    return false;
  return true;
}

void Pool::take_slot_locked() {
  ++slots_;
  ++mgr_.db_servers_[settings_.database];
  ++mgr_.user_servers_[settings_.user];
}

void Pool::free_slot_locked() {
  --slots_;
  --mgr_.db_servers_[settings_.database];
  --mgr_.user_servers_[settings_.user];
}

observe::ConnectionEvent Pool::server_event(const ServerConn& s, std::string event) const {
  observe::ConnectionEvent ev;
  ev.event = std::move(event);
  ev.conn_id = s.id;
  ev.side = "server";
  ev.peer = s.backend;
  ev.backend = s.backend;
  ev.database = settings_.database;
  ev.user = settings_.server_user;
  ev.pool = settings_.key();
  ev.backend_pid = s.backend_pid;
  ev.tls = s.tls;
  return ev;
}

void Pool::let_first_waiter_open_locked() {
  if (waiters_.empty() || paused_) return;
  auto w = waiters_.front();
  waiters_.pop_front();
  w->may_open = true;
  ++opening_;
  take_slot_locked();
  wake_locked(w);
}

void Pool::wake_locked(const std::shared_ptr<Waiter>& w) {
  asio::post(w->executor, [w] { w->timer.cancel(); });
}

std::optional<HostTarget> Pool::target_endpoint() const {
  return hosts_->pick(settings_.attrs);
}

namespace {
// A failure that means "this host cannot serve now" (down, starting up,
// shutting down, not the right role): a tracked pool holds and tries another
// host rather than failing the client.
bool host_unavailable(const ProxyError& e) {
  return e.cause == "server_connect_failed" || e.cause == "server_connect_timeout" ||
         e.cause == "server_login_timeout" || e.cause == "server_not_writer" ||
         e.cause == "server_not_standby" || e.cause == "no_writer" ||
         e.sqlstate == sqlstate::kCannotConnectNow || e.sqlstate == sqlstate::kAdminShutdown ||
         e.sqlstate == sqlstate::kCrashShutdown ||
         (e.cause == "server_login_failed" && e.err_no != 0);
}

// Causes of a link's death that may mean its host went away.
bool link_death_suggests_host_gone(const CloseReason& why) {
  return why.cause == "server_eof" || why.cause == "peer_reset" || why.cause == "broken_pipe" ||
         why.cause == "keepalive_timeout" || why.cause == "unreachable" ||
         why.cause == "connection_aborted" || why.cause == "network_error" ||
         why.sqlstate == sqlstate::kAdminShutdown || why.sqlstate == sqlstate::kCrashShutdown ||
         why.sqlstate == sqlstate::kCannotConnectNow;
}
}  // namespace

void Pool::publish_host_events(std::vector<observe::ConnectionEvent> evs, bool changed,
                               size_t host_index) {
  mgr_.on_host_events(settings_.database, std::move(evs), changed, host_index);
}

asio::awaitable<void> Pool::verify_role(ServerPtr s) {
  auto param = [&](const char* k) {
    auto it = s->params.find(k);
    return it == s->params.end() ? std::string() : it->second;
  };
  std::string hot = param("in_hot_standby");
  const bool read_only = param("default_transaction_read_only") == "on";
  if (hot.empty()) {
    // Before PostgreSQL 14 the role is not reported: ask, like libpq does.
    std::vector<std::string> row;
    std::string failure;
    if (!co_await run_simple_query(*s, "SHOW transaction_read_only", failure, &row) ||
        row.empty()) {
      close(s, {query_failure_cause(*s, "server_role_check_failed"), "proxy", "", failure});
      throw ProxyError(
          sqlstate::kCannotConnectNow,
          fmt::format("pgwarden could not check the role of server {}: {}", s->backend, failure),
          "server_role_check_failed");
    }
    hot = row[0];
  }
  const bool in_recovery = hot == "on";
  bool changed = false;
  auto evs = hosts_->report_role(
      s->host_index, in_recovery ? HostRole::standby : HostRole::primary,
      in_recovery ? "in recovery (seen at login)" : "not in recovery (seen at login)", changed);
  if (!evs.empty() || changed) publish_host_events(std::move(evs), changed, s->host_index);
  s->host_epoch = hosts_->epoch(s->host_index);
  const std::string cause = login_role_mismatch(settings_.attrs, in_recovery, read_only);
  if (cause.empty()) co_return;
  const std::string message = fmt::format(
      "server {} is {} and pool {} needs {} (target_session_attrs = {})", s->backend,
      in_recovery ? "in recovery" : (read_only ? "read-only" : "the writer"), settings_.key(),
      cause == "server_not_writer" ? "the writer" : "a standby", to_string(settings_.attrs));
  close(s, {cause, "proxy", "", message});
  throw ProxyError(sqlstate::kCannotConnectNow, message, cause);
}

asio::awaitable<ServerPtr> Pool::open_new() {
  auto s = std::make_shared<ServerConn>(ex_, observe::next_conn_id());
  s->pool = this;
  s->counted = true;
  std::optional<HostTarget> target = target_endpoint();
  try {
    if (!target)
      throw ProxyError(
          sqlstate::kCannotConnectNow,
          fmt::format("no host of database \"{}\" is {} now: {}", settings_.database,
                      settings_.attrs == TargetSessionAttrs::read_only ? "a standby" : "the writer",
                      hosts_->describe()),
          "no_writer");
    s->host_index = target->index;
    s->host_epoch = target->epoch;
    PoolSettings dial = settings_;
    dial.host = target->addr.host;
    dial.port = target->addr.port;
    const auto tls = tls_context();  // a named local: see connect_and_login
    co_await connect_and_login(*s, dial, tls);
  } catch (ProxyError& e) {
    // "Cannot serve now": clients back off on 57P03 rather than reconnect at once.
    if (e.cause == "server_connect_failed" || e.cause == "server_connect_timeout")
      e.sqlstate = sqlstate::kCannotConnectNow;
    if (target && hosts_->tracked() && host_unavailable(e)) {
      bool changed = false;
      auto evs = hosts_->report_failure(target->index, e.message, changed);
      publish_host_events(std::move(evs), changed, target->index);
    }
    if (e.cause == "no_writer") {
      std::lock_guard lock(mgr_.mu_);
      --opening_;
      free_slot_locked();
      let_first_waiter_open_locked();
      throw;
    }
    if (e.cause.starts_with("server_tls_"))
      metrics_.tls_handshakes->with({settings_.key(), e.cause.substr(11)}).inc();
    {
      std::lock_guard lock(mgr_.mu_);
      --opening_;
      free_slot_locked();
      // A waiter may now open in our place (the failure may be transient).
      let_first_waiter_open_locked();
    }
    observe::ConnectionEvent ev;
    ev.event = "server.connect_failed";
    ev.conn_id = s->id;
    ev.side = "server";
    ev.backend = target->addr.str();
    ev.database = settings_.database;
    ev.user = settings_.server_user;
    ev.pool = settings_.key();
    ev.initiator = e.initiator;
    ev.cause = e.cause;
    ev.sqlstate = e.sqlstate;
    ev.message = e.message;
    ev.err_no = e.err_no;
    ev.state = "authenticating";
    mgr_.bus().publish(ev);
    throw;
  }
  if (s->stream.tls()) metrics_.tls_handshakes->with({settings_.key(), "ok"}).inc();
  {
    std::lock_guard lock(mgr_.mu_);
    --opening_;
    ++active_;
    servers_[s->id] = s;
  }
  // A tracked pool never lends a link to a host of the wrong role (a
  // read-write pool never to a host in recovery). Closing frees the slot.
  if (hosts_->tracked()) co_await verify_role(s);
  {
    std::lock_guard lock(mgr_.mu_);
    welcome_ = s->greeting;
  }
  observe::ConnectionEvent ev = server_event(*s, "server.open");
  ev.state = "idle";
  mgr_.bus().publish(ev);
  co_return s;
}

bool Pool::idle_conn_dead(ServerConn& s, CloseReason& why) {
  int err = 0;
  switch (net::peek(s.stream.socket().native_handle(), err)) {
    case net::PeekResult::idle:
      return false;
    case net::PeekResult::eof:
      why = {"server_eof", "server", "", "server closed the idle connection without a message"};
      return true;
    case net::PeekResult::error:
      why = {net::errno_cause(err), "network", "", std::strerror(err), err};
      return true;
    case net::PeekResult::readable: {
      if (s.stream.tls()) {
        // PostgreSQL speaks to an idle connection only to end it; over TLS
        // its words cannot be read without a decrypting read.
        why = {"server_idle_data", "server", "",
               "the server sent data on an idle TLS connection (its goodbye, left unread)"};
        return true;
      }
      // An idle server only speaks to say goodbye: read its FATAL, or the
      // WARNING of a crash restart or immediate shutdown, for the cause.
      char buf[4096];
      ssize_t n = ::recv(s.stream.socket().native_handle(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) s.rbuf.append(buf, static_cast<size_t>(n));
      wire::Frame f;
      wire::ErrorFields e;
      const bool framed = wire::next_frame(s.rbuf, 1 << 20, f) == wire::FrameStatus::ok;
      if (framed && f.type == 'E') {
        wire::parse_error_fields(f.body, e);
        why = {"server_fatal", "server", e.sqlstate, e.message};
      } else if (framed && f.type == 'N' && wire::parse_error_fields(f.body, e)) {
        why = {cause_of_warned_close(e.sqlstate), "server", e.sqlstate, e.message};
      } else {
        why = {"server_protocol_violation", "server", "", "unexpected data on an idle connection"};
      }
      return true;
    }
  }
  return false;
}

asio::awaitable<ServerPtr> Pool::acquire(const std::function<void()>& on_wait,
                                         std::shared_ptr<WaitAbandon> abandon) {
  if (!hosts_->tracked()) co_return co_await acquire_once(on_wait, abandon);
  // Failover hold: while no host fits (no writer), the request waits up to
  // failover_wait_timeout, retrying as the role monitor learns more.
  auto ex = co_await asio::this_coro::executor;
  std::optional<SteadyClock::time_point> hold_start;
  bool told_wait = false;
  auto once = [&] {
    if (!told_wait && on_wait) on_wait();
    told_wait = true;
  };
  const std::function<void()> on_wait_once = once;
  asio::steady_timer timer(ex);
  for (;;) {
    std::optional<ProxyError> failure;
    try {
      ServerPtr s = co_await acquire_once(on_wait_once, abandon);
      if (settings_.attrs == TargetSessionAttrs::read_write) mgr_.note_served(hosts_);
      co_return s;
    } catch (const ProxyError& e) {
      if (!host_unavailable(e)) throw;
      failure = e;
    }
    const auto now = SteadyClock::now();
    if (!hold_start) {
      hold_start = now;
      once();
    }
    const auto limit = settings_.timeouts.failover_wait;
    if (now - *hold_start >= limit) {
      metrics_.wait_timeouts->inc();
      {
        std::lock_guard lock(mgr_.mu_);
        ++wait_timeouts_;
      }
      throw ProxyError(
          sqlstate::kCannotConnectNow,
          fmt::format("pgwarden: no {} for database \"{}\" within failover_wait_timeout ({}); "
                      "hosts: {}",
                      settings_.attrs == TargetSessionAttrs::read_only ? "standby" : "writer",
                      settings_.database, format_duration(limit), hosts_->describe()),
          settings_.attrs == TargetSessionAttrs::read_write ? "failover_wait_timeout"
                                                            : "no_suitable_host",
          "proxy", 0, failure->message);
    }
    // Poll as fast as the monitor does; abandon wakes us.
    if (abandon) abandon->wake_ = [&timer] { timer.cancel(); };
    if (abandon && abandon->abandoned())
      throw ProxyError(sqlstate::kConnectionFailure,
                       fmt::format("client left while waiting for a server connection of pool {}",
                                   settings_.key()),
                       "client_gone_while_waiting", "client");
    timer.expires_after(std::min<SteadyClock::duration>(settings_.timeouts.host_check_fast_interval,
                                                        *hold_start + limit - now));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (abandon) abandon->wake_ = nullptr;
  }
}

asio::awaitable<ServerPtr> Pool::acquire_once(const std::function<void()>& on_wait,
                                              const std::shared_ptr<WaitAbandon>& abandon) {
  auto ex = co_await asio::this_coro::executor;
  const auto start = SteadyClock::now();
  const auto wait_limit = settings_.timeouts.query_wait;
  std::shared_ptr<Waiter> waiter;
  for (;;) {
    ServerPtr got;
    bool open = false;
    bool started_waiting = false;
    std::vector<std::pair<ServerPtr, CloseReason>> dead;
    if (abandon && abandon->abandoned()) {
      // The requester left: whatever the queue gave it goes back untouched.
      ServerPtr granted;
      {
        std::lock_guard lock(mgr_.mu_);
        if (waiter) {
          std::erase(waiters_, waiter);
          granted = std::move(waiter->granted);
          if (waiter->may_open) {
            --opening_;
            free_slot_locked();
            let_first_waiter_open_locked();
          }
        }
      }
      if (granted) release(std::move(granted));
      throw ProxyError(sqlstate::kConnectionFailure,
                       fmt::format("client left while waiting for a server connection of pool {}",
                                   settings_.key()),
                       "client_gone_while_waiting", "client");
    }
    {
      std::lock_guard lock(mgr_.mu_);
      if (waiter && waiter->granted) {
        got = std::move(waiter->granted);  // counted as active by the giver
      } else if (waiter && waiter->may_open) {
        open = true;  // the waker took the slot for us
      } else if (!waiter && !paused_) {
        while (!idle_.empty()) {
          ServerPtr s = idle_.back();
          idle_.pop_back();
          CloseReason why;
          if (idle_conn_dead(*s, why)) {
            free_slot_locked();
            s->counted = false;
            dead.emplace_back(s, why);
            continue;
          }
          ++active_;
          got = s;
          break;
        }
        if (!got && can_open_locked(false)) {
          open = true;
          ++opening_;
          take_slot_locked();
        }
      } else if (waiter && !paused_ && settings_.reserve_size > 0 &&
                 SteadyClock::now() - start >= settings_.timeouts.reserve_pool &&
                 can_open_locked(true)) {
        std::erase(waiters_, waiter);
        open = true;
        ++opening_;
        take_slot_locked();
      }
      if (!got && !open) {
        if (wait_limit.count() > 0 && SteadyClock::now() - start >= wait_limit) {
          if (waiter) std::erase(waiters_, waiter);
          ++wait_timeouts_;
          metrics_.wait_timeouts->inc();
          throw ProxyError(
              sqlstate::kInsufficientResources,
              fmt::format("pgwarden: no server connection for pool {} within query_wait_timeout "
                          "({}): {} of {} in use, {} other clients waiting",
                          settings_.key(), format_duration(wait_limit), active_, settings_.size,
                          waiters_.size()),
              "query_wait_timeout");
        }
        if (!waiter) {
          waiter = std::make_shared<Waiter>(ex);
          waiters_.push_back(waiter);
          started_waiting = true;
          if (abandon) abandon->wake_ = [w = waiter] { w->timer.cancel(); };
        }
        // Wake for a hand-over, the reserve pool, or the wait limit.
        auto next = wait_limit.count() > 0 ? start + wait_limit : SteadyClock::time_point::max();
        if (settings_.reserve_size > 0)
          next = std::min(next, start + settings_.timeouts.reserve_pool);
        waiter->timer.expires_at(next);
      }
    }
    for (auto& [s, why] : dead) emit_close(s, why);
    if (started_waiting && on_wait) on_wait();
    if (got) {
      if (SteadyClock::now() - got->last_used >= settings_.timeouts.server_check_delay) {
        std::string failure;
        if (!co_await run_simple_query(*got, settings_.check_query, failure)) {
          close(got, {query_failure_cause(*got, "health_check_failed"), "proxy", "", failure});
          waiter.reset();
          continue;
        }
      }
      record_wait(start);
      SPDLOG_TRACE("pool {}: server {} lent", settings_.key(), got->id);
      co_return got;
    }
    if (open) {
      ServerPtr s = co_await open_new();
      record_wait(start);
      co_return s;
    }
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

void Pool::record_wait(SteadyClock::time_point start) {
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count();
  metrics_.wait->observe(static_cast<double>(us) / 1e6);
  std::lock_guard lock(mgr_.mu_);
  ++acquired_;
  total_wait_us_ += static_cast<uint64_t>(us);
  max_wait_ms_ = std::max<int64_t>(max_wait_ms_, us / 1000);
}

void Pool::hand_over_locked(ServerPtr s, std::vector<ServerPtr>& to_close) {
  if (paused_) {
    free_slot_locked();
    s->counted = false;
    to_close.push_back(std::move(s));
    return;
  }
  SPDLOG_TRACE("pool {}: server {} returned, {} waiting", settings_.key(), s->id, waiters_.size());
  s->last_used = SteadyClock::now();
  while (!waiters_.empty()) {
    auto w = waiters_.front();
    waiters_.pop_front();
    w->granted = std::move(s);
    ++active_;
    wake_locked(w);
    return;
  }
  idle_.push_back(std::move(s));
}

void Pool::release(ServerPtr s) {
  if (settings_.timeouts.server_lifetime.count() > 0 &&
      SteadyClock::now() - s->created >= settings_.timeouts.server_lifetime) {
    close(std::move(s), {"lifetime", "proxy", "", "server_lifetime reached"});
    return;
  }
  if (hosts_->stale(s->host_index, s->host_epoch)) {
    close(std::move(s),
          {"server_role_changed", "proxy", "",
           "the server's role changed while the link was lent: " + hosts_->describe()});
    return;
  }
  std::vector<ServerPtr> to_close;
  std::string cause;
  {
    std::lock_guard lock(mgr_.mu_);
    --active_;
    hand_over_locked(std::move(s), to_close);
    cause = pause_cause_;
  }
  for (auto& c : to_close)
    emit_close(c, {cause, "proxy", "", "pool paused by an administrator (" + cause + ")"});
}

void Pool::close(ServerPtr s, const CloseReason& why) {
  if (hosts_->tracked() && link_death_suggests_host_gone(why))
    hosts_->report_link_lost(s->host_index);
  {
    std::lock_guard lock(mgr_.mu_);
    if (s->counted) {
      s->counted = false;
      --active_;
      free_slot_locked();
      let_first_waiter_open_locked();
    }
  }
  emit_close(s, why);
}

void Pool::emit_close(const ServerPtr& s, const CloseReason& why) {
  if (s->stream.socket().is_open()) {
    boost::system::error_code ec;
    // A TLS link cannot take plaintext: it closes without a Terminate.
    if (why.initiator == "proxy" && !s->stream.tls()) {
      std::string bye;
      wire::terminate(bye);
      ::send(s->stream.socket().native_handle(), bye.data(), bye.size(),
             MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    s->stream.socket().close(ec);
  }
  {
    std::lock_guard lock(mgr_.mu_);
    servers_.erase(s->id);
  }
  observe::ConnectionEvent ev = server_event(*s, "server.close");
  ev.age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - s->created)
                  .count();
  ev.idle_ms = ms_since(s->last_used);
  ev.state = why.state;
  ev.initiator = why.initiator;
  ev.cause = why.cause;
  ev.sqlstate = why.sqlstate;
  ev.message = why.message;
  ev.err_no = why.err_no;
  ev.bytes_in = s->bytes_in;
  ev.bytes_out = s->bytes_out;
  ev.client_impact = why.client_impact.empty() ? "none" : why.client_impact;
  mgr_.bus().publish(ev);
}

void Pool::reset_then_release(ServerPtr s, std::vector<std::string> sqls,
                              std::string cause_if_fails) {
  asio::co_spawn(
      s->stream.get_executor(),
      [this, s, sqls = std::move(sqls),
       cause = std::move(cause_if_fails)]() -> asio::awaitable<void> {
        std::string failure;
        bool ok = true;
        bool resets_settings = false;
        for (auto& sql : sqls) {
          if (ok) ok = co_await run_simple_query(*s, sql, failure);
          resets_settings =
              resets_settings || sql.starts_with("DISCARD ALL") || sql.starts_with("RESET ALL");
        }
        // Every setting is back at its login value: what replay compares against.
        if (ok && resets_settings) s->params = s->defaults;
        if (ok && s->rbuf.empty()) {
          release(s);
        } else {
          close(s, {query_failure_cause(*s, cause), "proxy", "",
                    failure.empty() ? "reset left unread data" : failure});
        }
      },
      asio::detached);
}

void Pool::maintain() {
  std::vector<std::pair<ServerPtr, CloseReason>> closing;
  int to_open = 0;
  {
    std::lock_guard lock(mgr_.mu_);
    auto now = SteadyClock::now();
    for (auto it = idle_.begin(); it != idle_.end();) {
      ServerPtr& s = *it;
      CloseReason why;
      bool drop = idle_conn_dead(*s, why);
      if (!drop && settings_.timeouts.server_lifetime.count() > 0 &&
          now - s->created >= settings_.timeouts.server_lifetime) {
        why = {"lifetime", "proxy", "", "server_lifetime reached"};
        drop = true;
      }
      if (!drop && settings_.timeouts.server_idle.count() > 0 &&
          now - s->last_used >= settings_.timeouts.server_idle && slots_ > settings_.min_size) {
        why = {"idle_timeout", "proxy", "", "server_idle_timeout reached"};
        drop = true;
      }
      if (drop) {
        free_slot_locked();
        s->counted = false;
        closing.emplace_back(s, why);
        it = idle_.erase(it);
      } else {
        ++it;
      }
    }
    // Without keys to log in with, warm-up waits for a client's SCRAM login.
    const bool can_log_in = !settings_.awaits_scram_keys();
    while (can_log_in && !paused_ && slots_ < settings_.min_size && can_open_locked(false)) {
      ++opening_;
      take_slot_locked();
      ++to_open;
    }
  }
  for (auto& [s, why] : closing) emit_close(s, why);
  for (int i = 0; i < to_open; ++i) {
    asio::co_spawn(
        ex_,
        [this]() -> asio::awaitable<void> {
          try {
            ServerPtr s = co_await open_new();
            release(s);
          } catch (const ProxyError& e) {
            spdlog::warn("min_pool_size: could not open a server connection for {}: {}",
                         settings_.key(), e.message);
          }
        },
        asio::detached);
  }
}

PoolStats Pool::stats() const {
  std::lock_guard lock(mgr_.mu_);
  PoolStats st;
  st.database = settings_.database;
  st.user = settings_.user;
  st.mode = to_string(settings_.mode);
  st.active = active_;
  st.idle = static_cast<int>(idle_.size());
  st.opening = opening_;
  st.waiting = static_cast<int>(waiters_.size());
  st.size = settings_.size;
  st.wait_timeouts = wait_timeouts_;
  st.total_wait_us = total_wait_us_;
  st.acquired = acquired_;
  st.max_wait_ms = max_wait_ms_;
  return st;
}

void Pool::list_servers(std::vector<ServerInfo>& out) const {
  std::lock_guard lock(mgr_.mu_);
  const auto steady_now = SteadyClock::now();
  const auto wall_now = std::chrono::system_clock::now();
  for (auto& [id, weak] : servers_) {
    auto s = weak.lock();
    if (!s) continue;
    ServerInfo i;
    i.id = id;
    i.database = settings_.database;
    i.user = settings_.server_user;
    i.pool = settings_.key();
    i.backend = s->backend;
    i.local_addr = s->local_addr;
    i.local_port = s->local_port;
    i.backend_pid = s->backend_pid;
    i.tls = s->tls;
    i.client_id = s->client_id.load();
    i.state = std::find(idle_.begin(), idle_.end(), s) != idle_.end() ? "idle" : "active";
    i.connected_at = s->connected_at;
    i.last_used = wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                 steady_now - s->last_used);
    out.push_back(std::move(i));
  }
}

void Pool::close_idle_locked(const CloseReason& why,
                             std::vector<std::pair<ServerPtr, CloseReason>>& out) {
  for (auto& s : idle_) {
    free_slot_locked();
    s->counted = false;
    out.emplace_back(std::move(s), why);
  }
  idle_.clear();
}

void Pool::pause(const std::string& cause) {
  std::vector<std::pair<ServerPtr, CloseReason>> closing;
  {
    std::lock_guard lock(mgr_.mu_);
    paused_ = true;
    pause_cause_ = cause;
    close_idle_locked({cause, "proxy", "", "pool paused by an administrator (" + cause + ")"},
                      closing);
  }
  for (auto& [s, why] : closing) emit_close(s, why);
}

void Pool::resume() {
  std::lock_guard lock(mgr_.mu_);
  paused_ = false;
  // Waiters queued during the pause open connections as slots allow.
  size_t n = waiters_.size();
  for (size_t i = 0; i < n && can_open_locked(false); ++i) let_first_waiter_open_locked();
}

bool Pool::paused() const {
  std::lock_guard lock(mgr_.mu_);
  return paused_;
}

int Pool::lent_or_opening() const {
  std::lock_guard lock(mgr_.mu_);
  return active_ + opening_;
}

void Pool::resize(int size, int min_size, int reserve_size) {
  std::lock_guard lock(mgr_.mu_);
  settings_.size = size;
  settings_.min_size = min_size;
  settings_.reserve_size = reserve_size;
  size_t n = waiters_.size();
  for (size_t i = 0; i < n && can_open_locked(false); ++i) let_first_waiter_open_locked();
}

std::map<std::string, std::string> Pool::welcome_params() const {
  std::lock_guard lock(mgr_.mu_);
  return welcome_;
}

bool Pool::has_welcome_params() const {
  std::lock_guard lock(mgr_.mu_);
  return !welcome_.empty();
}

std::shared_ptr<asio::ssl::context> Pool::tls_context() const {
  std::lock_guard lock(mgr_.mu_);
  return tls_context_;
}

void Pool::set_tls_context(std::shared_ptr<asio::ssl::context> ctx) {
  std::lock_guard lock(mgr_.mu_);
  tls_context_ = std::move(ctx);
}

void Pool::host_changed(size_t host_index, const std::string& cause) {
  std::vector<std::pair<ServerPtr, CloseReason>> closing;
  {
    std::lock_guard lock(mgr_.mu_);
    for (auto it = idle_.begin(); it != idle_.end();) {
      ServerPtr s = *it;
      if (s->host_index != host_index || !hosts_->stale(s->host_index, s->host_epoch)) {
        ++it;
        continue;
      }
      free_slot_locked();
      s->counted = false;
      closing.emplace_back(
          s, CloseReason{cause, "proxy", "", "the server's role changed: " + hosts_->describe()});
      it = idle_.erase(it);
    }
    if (!closing.empty()) {
      size_t n = waiters_.size();
      for (size_t i = 0; i < n && can_open_locked(false); ++i) let_first_waiter_open_locked();
    }
  }
  for (auto& [s, why] : closing) emit_close(s, why);
}

}  // namespace pgw::pool

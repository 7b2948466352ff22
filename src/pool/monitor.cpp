// The role monitor: one coroutine per host of a tracked database, each with
// its own check connection (logged in with the database's server
// credentials), asking `pg_is_in_recovery()` every host_check_interval (every
// host_check_fast_interval while the database has no writer) and, on Aurora,
// which instance it is and which instance aurora_replica_status() names as
// the writer. Every check is bounded by host_check_timeout.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pgwarden/observe/ids.hpp"
#include "pgwarden/pool/login.hpp"
#include "pgwarden/pool/pool.hpp"

namespace pgw::pool {

using asio::use_awaitable;

namespace {

// Schema-qualified throughout (a user's search_path or a same-named function
// in another schema cannot answer in its place).
constexpr const char* kIsAurora =
    "SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid "
    "OPERATOR(pg_catalog.=) p.pronamespace WHERE n.nspname OPERATOR(pg_catalog.=) 'pg_catalog' "
    "AND p.proname OPERATOR(pg_catalog.=) 'aurora_replica_status'";
constexpr const char* kInRecovery = "SELECT pg_catalog.pg_is_in_recovery()";
constexpr const char* kAuroraSelf = "SELECT pg_catalog.aurora_db_instance_identifier()";
constexpr const char* kAuroraWriter =
    "SELECT server_id FROM pg_catalog.aurora_replica_status() WHERE session_id "
    "OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID'";

struct CheckLink {
  ServerPtr conn;
  bool aurora = false;
  SteadyClock::time_point opened;
};

struct HostLoop {
  HostLoop(asio::any_io_executor ex) : strand(asio::make_strand(ex)), timer(strand) {}
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
};

// One check of host i: (re)connects when needed, then asks its role. Returns
// the role, or nullopt with `failure` set.
asio::awaitable<std::optional<HostRole>> check_once(CheckLink& link, const PoolSettings& login,
                                                    std::shared_ptr<asio::ssl::context> tls,
                                                    const HostPort& addr, std::string& failure,
                                                    std::string& aurora_id,
                                                    std::string& aurora_writer) {
  auto ex = co_await asio::this_coro::executor;
  const auto& t = login.timeouts;
  // A connection older than dns_max_ttl is replaced: its name is resolved again.
  if (link.conn && SteadyClock::now() - link.opened >= t.dns_max_ttl) {
    boost::system::error_code ec;
    link.conn->stream.socket().close(ec);
    link.conn.reset();
  }
  if (!link.conn) {
    auto s = std::make_shared<ServerConn>(ex, observe::next_conn_id());
    PoolSettings dial = login;
    dial.host = addr.host;
    dial.port = addr.port;
    dial.timeouts.server_connect = t.host_check_timeout;
    dial.timeouts.server_login = t.host_check_timeout;
    try {
      co_await connect_and_login(*s, dial, tls);
    } catch (const ProxyError& e) {
      failure = e.sqlstate.empty() ? e.message : fmt::format("{} ({})", e.message, e.sqlstate);
      co_return std::nullopt;
    }
    s->query_deadline = t.host_check_timeout;
    std::vector<std::string> row;
    std::string why;
    if (!co_await run_simple_query(*s, kIsAurora, why, &row)) {
      failure = why;
      co_return std::nullopt;
    }
    link.aurora = !row.empty();
    link.conn = s;
    link.opened = SteadyClock::now();
  }
  std::vector<std::string> row;
  std::string why;
  if (!co_await run_simple_query(*link.conn, kInRecovery, why, &row) || row.empty()) {
    failure = why.empty() ? "no answer to pg_is_in_recovery()" : why;
    boost::system::error_code ec;
    link.conn->stream.socket().close(ec);
    link.conn.reset();
    co_return std::nullopt;
  }
  const bool in_recovery = row[0] == "t";
  if (link.aurora) {
    std::vector<std::string> self, writer;
    if (co_await run_simple_query(*link.conn, kAuroraSelf, why, &self) && !self.empty())
      aurora_id = self[0];
    if (co_await run_simple_query(*link.conn, kAuroraWriter, why, &writer) && !writer.empty())
      aurora_writer = writer[0];
    if (link.conn->query_timed_out || !link.conn->rbuf.empty()) {
      boost::system::error_code ec;
      link.conn->stream.socket().close(ec);
      link.conn.reset();
    }
  }
  co_return in_recovery ? HostRole::standby : HostRole::primary;
}

}  // namespace

void PoolManager::start_monitor(std::shared_ptr<HostSet> hs, PoolSettings login) {
  auto tls = login.tls_context;
  std::vector<std::shared_ptr<HostLoop>> loops;
  for (size_t i = 0; i < hs->size(); ++i) loops.push_back(std::make_shared<HostLoop>(ex_));
  // A host whose links die, or that the Aurora topology names as the writer,
  // is checked at once.
  hs->set_on_check_asked([loops](size_t i) {
    if (i >= loops.size()) return;
    auto l = loops[i];
    asio::post(l->strand, [l] { l->timer.cancel(); });
  });
  for (size_t i = 0; i < hs->size(); ++i) {
    auto loop = loops[i];
    asio::co_spawn(
        loop->strand,
        [this, hs, login, tls, i, loop, stopping = stopping_]() -> asio::awaitable<void> {
          // Starts after pool_for (which holds the manager's lock) returns.
          co_await asio::post(loop->strand, use_awaitable);
          CheckLink link;
          const HostPort addr = hs->snapshot()[i].addr;
          while (!stopping->load()) {
            hs->check_asked(i);
            if (hs->due(i, SteadyClock::now())) {
              std::string failure, aurora_id, aurora_writer;
              auto role =
                  co_await check_once(link, login, tls, addr, failure, aurora_id, aurora_writer);
              if (stopping->load()) break;
              bool changed = false;
              std::vector<observe::ConnectionEvent> evs;
              if (role) {
                evs = hs->report_role(
                    i, *role, *role == HostRole::standby ? "in recovery" : "not in recovery",
                    changed);
                if (link.aurora) hs->report_aurora(i, aurora_id, aurora_writer);
              } else {
                evs = hs->report_failure(i, failure, changed);
              }
              if (!evs.empty() || changed)
                on_host_events(hs->database(), std::move(evs), changed, i);
            }
            loop->timer.expires_after(hs->interval());
            boost::system::error_code ec;
            co_await loop->timer.async_wait(asio::redirect_error(use_awaitable, ec));
          }
          if (link.conn) {
            boost::system::error_code ec;
            link.conn->stream.socket().close(ec);
          }
        },
        asio::detached);
  }
}

}  // namespace pgw::pool

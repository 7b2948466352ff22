// Gauges the proxy computes from live state at each scrape, and the periodic
// max_connections headroom probe.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <set>

#include "pgwarden/core/version.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"

namespace pgw::proxy {

using asio::use_awaitable;

void Proxy::register_metrics() {
  metrics_.gauge("pgwarden_build_info", "pgwarden version (value is always 1)", {"version"})
      .with({kVersion})
      .set(1);
  auto& clients = metrics_.gauge("pgwarden_client_connections",
                                 "Client connections by pool and state", {"pool", "state"});
  auto& servers = metrics_.gauge("pgwarden_server_connections",
                                 "Server connections by pool and state", {"pool", "state"});
  auto& waiting = metrics_.gauge("pgwarden_clients_waiting",
                                 "Clients waiting for a server connection", {"pool"});
  auto& size =
      metrics_.gauge("pgwarden_pool_size", "Configured server connections per pool", {"pool"});
  auto& utilization = metrics_.gauge("pgwarden_pool_utilization_ratio",
                                     "Server connections lent or opening / pool size", {"pool"});
  auto& max_conn = metrics_.gauge("pgwarden_server_max_connections", "The server's max_connections",
                                  {"backend"});
  auto& in_use =
      metrics_.gauge("pgwarden_server_backends",
                     "Client backends on the server (all clients, not only pgwarden)", {"backend"});
  auto& headroom = metrics_.gauge(
      "pgwarden_server_connection_headroom",
      "Connections still available: max_connections - superuser_reserved_connections - backends",
      {"backend"});
  auto& probe_up = metrics_.gauge("pgwarden_server_probe_up",
                                  "1 if the last capacity probe got an answer", {"backend"});
  register_replication_metrics();
  metrics_.on_collect([this, &clients, &servers, &waiting, &size, &utilization, &max_conn, &in_use,
                       &headroom, &probe_up] {
    static constexpr ClientState kStates[] = {
        ClientState::authenticating, ClientState::idle, ClientState::active,
        ClientState::in_transaction, ClientState::copy, ClientState::waiting_for_server};
    std::map<std::pair<std::string, ClientState>, int> counts;
    std::set<std::string> pools;
    for (const auto& st : pools_.stats()) pools.insert(st.database + "/" + st.user);
    for (const auto& c : this->clients()) counts[{c.pool, c.state}]++;
    clients.clear();
    for (const auto& p : pools)
      for (auto s : kStates) clients.with({p, to_string(s)}).set(counts[{p, s}]);
    for (auto& [key, n] : counts)
      if (!pools.count(key.first)) clients.with({key.first, to_string(key.second)}).set(n);
    servers.clear();
    for (const auto& st : pools_.stats()) {
      const std::string p = st.database + "/" + st.user;
      servers.with({p, "active"}).set(st.active);
      servers.with({p, "idle"}).set(st.idle);
      servers.with({p, "opening"}).set(st.opening);
      waiting.with({p}).set(st.waiting);
      size.with({p}).set(st.size);
      utilization.with({p}).set(st.size > 0 ? double(st.active + st.opening) / st.size : 0);
    }
    for (const auto& cap : capacities()) {
      probe_up.with({cap.backend}).set(cap.up ? 1 : 0);
      if (!cap.up) continue;
      max_conn.with({cap.backend}).set(cap.max_connections);
      in_use.with({cap.backend}).set(cap.in_use);
      headroom.with({cap.backend}).set(cap.max_connections ? cap.headroom() : 0);
    }
  });
}

void Proxy::register_replication_metrics() {
  // Created here so that /metrics names them before the first replication
  // client; the sessions add the bytes as they forward them.
  metrics_.counter("pgwarden_replication_bytes_total", "Bytes forwarded on replication connections",
                   {"pool", "direction"});
  auto& conns = metrics_.gauge("pgwarden_replication_connections",
                               "Replication connections (replication=database or physical)",
                               {"pool", "mode"});
  const std::vector<std::string> per_conn = {"pool", "mode", "conn_id", "application_name"};
  auto& age = metrics_.gauge("pgwarden_replication_last_message_age_seconds",
                             "Seconds since the server last sent a message on this replication "
                             "connection",
                             per_conn);
  auto& lag = metrics_.gauge("pgwarden_replication_lag_bytes",
                             "The server's WAL end minus the client's flush LSN (standby status "
                             "updates)",
                             per_conn);
  auto& wal_end = metrics_.gauge("pgwarden_replication_server_wal_end_lsn",
                                 "The end of WAL on the server as XLogData and keepalives last "
                                 "reported it (an LSN, as a number)",
                                 per_conn);
  auto& flush =
      metrics_.gauge("pgwarden_replication_flush_lsn",
                     "The flush LSN of the client's last standby status update", per_conn);
  auto& streaming =
      metrics_.gauge("pgwarden_replication_streaming",
                     "1 while the connection streams (CopyBoth), 0 otherwise", per_conn);
  metrics_.on_collect([this, &conns, &age, &lag, &wal_end, &flush, &streaming] {
    std::map<std::pair<std::string, std::string>, int> counts;
    for (const auto& st : pools_.stats()) {
      const std::string p = st.database + "/" + st.user;
      counts[{p, "database"}] += 0;
      counts[{p, "physical"}] += 0;
    }
    age.clear();
    lag.clear();
    wal_end.clear();
    flush.clear();
    streaming.clear();
    const int64_t now = SteadyClock::now().time_since_epoch().count();
    for (const auto& c : this->clients()) {
      if (!c.replication) continue;
      const auto& r = *c.replication;
      counts[{c.pool, r.mode}]++;
      const observe::LabelValues l = {c.pool, r.mode, std::to_string(c.id), c.application_name};
      if (r.stats.last_server_message_ns)
        age.with(l).set(double(now - r.stats.last_server_message_ns) / 1e9);
      lag.with(l).set(double(r.stats.lag_bytes()));
      wal_end.with(l).set(double(r.stats.server_wal_end));
      flush.with(l).set(double(r.stats.flush_lsn));
      streaming.with(l).set(r.stats.phase == wire::ReplicationPhase::copy_both ? 1 : 0);
    }
    conns.clear();
    for (auto& [k, n] : counts) conns.with({k.first, k.second}).set(n);
  });
}

std::vector<pool::ServerCapacity> Proxy::capacities() const {
  std::lock_guard lock(capacity_mu_);
  std::vector<pool::ServerCapacity> out;
  for (auto& [k, v] : capacities_) out.push_back(v);
  return out;
}

asio::awaitable<void> Proxy::capacity_prober() {
  asio::steady_timer timer(ioc_);
  for (;;) {
    // One probe per backend, with the credentials of a pool that uses it.
    // Pools exist only for clients that authenticated with pgwarden, so these
    // are configured credentials, never a name a stranger made up (a server
    // that refuses them for lack of slots is what the probe must report).
    std::map<std::string, pool::PoolSettings> backends;
    for (auto& p : pools_.pools()) {
      pool::PoolSettings ps = p->settings();
      ps.tls_context = p->tls_context();
      backends.emplace(ps.host + ":" + std::to_string(ps.port), std::move(ps));
    }
    for (auto& [backend, ps] : backends) {
      pool::ServerCapacity cap = co_await pool::probe_capacity(ps);
      std::lock_guard lock(capacity_mu_);
      capacities_[backend] = cap;
    }
    timer.expires_after(cfg_.admin.headroom_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (stopping_) co_return;
  }
}

}  // namespace pgw::proxy

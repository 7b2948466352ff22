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
  auto& host_up = metrics_.gauge(
      "pgwarden_host_up",
      "1 if the host of a tracked database answered its latest role check (or login)",
      {"database", "host"});
  auto& host_role = metrics_.gauge(
      "pgwarden_host_role",
      "1 for the role the host has now (primary, standby, down, unknown), 0 for the others",
      {"database", "host", "role"});
  metrics_.on_collect([this, &clients, &servers, &waiting, &size, &utilization, &max_conn, &in_use,
                       &headroom, &probe_up, &host_up, &host_role] {
    host_up.clear();
    host_role.clear();
    for (const auto& [db, hs] : pools_.host_sets()) {
      if (!hs->tracked()) continue;
      for (const auto& h : hs->snapshot()) {
        const std::string host = h.addr.str();
        host_up.with({db, host})
            .set(h.role == pool::HostRole::primary || h.role == pool::HostRole::standby ? 1 : 0);
        for (auto r : {pool::HostRole::primary, pool::HostRole::standby, pool::HostRole::down,
                       pool::HostRole::unknown})
          host_role.with({db, host, pool::to_string(r)}).set(h.role == r ? 1 : 0);
      }
    }
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

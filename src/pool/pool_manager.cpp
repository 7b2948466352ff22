// PoolManager: the pools by (database, user), built from the config on first
// use, and what spans them: PAUSE/RESUME/KILL by database, RELOAD of sizes and
// TLS contexts, maintenance, the host sets of tracked databases and the
// failover metrics. One Pool's own work is in pool.cpp.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "pgwarden/pool/pool.hpp"

namespace pgw::pool {

namespace {
struct PoolSizes {
  int size, min_size, reserve_size;
};
// Precedence: [databases.X] over [users.Y] over [proxy] defaults.
PoolSizes sizes_for(const ProxyConfig& cfg, const DatabaseConfig& d, const UserConfig* u) {
  return {d.pool_size.value_or(u && u->pool_size ? *u->pool_size : cfg.default_pool_size),
          d.min_pool_size.value_or(cfg.min_pool_size),
          d.reserve_pool_size.value_or(cfg.reserve_pool_size)};
}
}  // namespace

PoolManager::PoolManager(const ProxyConfig& cfg, observe::EventBus& bus, observe::Registry& metrics,
                         asio::any_io_executor ex)
    : cfg_(cfg), bus_(bus), metrics_(metrics), ex_(std::move(ex)) {
  register_failover_metrics();
}

std::shared_ptr<Pool> PoolManager::pool_for(const std::string& database, const std::string& user,
                                            std::string& error_sqlstate, std::string& error) {
  std::lock_guard lock(mu_);
  std::string key = database + "/" + user;
  if (auto it = pools_.find(key); it != pools_.end()) return it->second;
  auto db = cfg_.databases.find(database);
  if (db == cfg_.databases.end()) {
    error_sqlstate = sqlstate::kInvalidCatalogName;
    error = fmt::format("database \"{}\" is not configured in pgwarden", database);
    return nullptr;
  }
  const DatabaseConfig& d = db->second;
  auto u = cfg_.users.find(user);
  PoolSettings ps;
  ps.database = database;
  ps.user = user;
  ps.host = d.host;
  ps.port = d.port;
  ps.hosts = d.all_hosts();
  ps.attrs = d.session_attrs();
  ps.server_dbname = d.dbname;
  ps.server_user = d.user.value_or(user);
  if (d.password)
    ps.server_password = *d.password;
  else if (u != cfg_.users.end())
    ps.server_password = u->second.password;
  // What this user's clients logged in with can log in to the server only
  // as that same user.
  if (!d.password && ps.server_user == user) ps.learned = credentials_.user(user);
  ps.mode = d.pool_mode.value_or(u != cfg_.users.end() && u->second.pool_mode ? *u->second.pool_mode
                                                                              : cfg_.pool_mode);
  // After a RELOAD, new pools take their sizes from the reloaded file too.
  const ProxyConfig& sizing = reloaded_ ? *reloaded_ : cfg_;
  const DatabaseConfig& sd = sizing.databases.count(database) ? sizing.databases.at(database) : d;
  auto su = sizing.users.find(user);
  PoolSizes sizes = sizes_for(sizing, sd, su != sizing.users.end() ? &su->second : nullptr);
  ps.size = sizes.size;
  ps.min_size = sizes.min_size;
  ps.reserve_size = sizes.reserve_size;
  ps.max_db_connections = d.max_db_connections;
  ps.max_user_connections = u != cfg_.users.end() ? u->second.max_user_connections : 0;
  ps.max_prepared_statements = cfg_.max_prepared_statements;
  ps.reset_query = cfg_.server_reset_query;
  ps.reset_query_always = cfg_.server_reset_query_always;
  ps.check_query = cfg_.server_check_query;
  ps.timeouts = cfg_.timeouts;
  ps.keepalive = cfg_.keepalive;
  ps.tls = d.tls.apply_to(cfg_.server_tls);
  if (ps.tls.sslmode != SslMode::disable) {
    try {
      ps.tls_context =
          net::make_client_tls_context(ps.tls.sslrootcert, ps.tls.sslcert, ps.tls.sslkey);
    } catch (const std::exception& e) {
      error_sqlstate = sqlstate::kCannotConnect;
      error =
          fmt::format("pgwarden cannot set up TLS towards database \"{}\": {}", database, e.what());
      return nullptr;
    }
  }
  const observe::LabelValues labels{key};
  PoolMetrics pm;
  pm.wait = &metrics_
                 .histogram("pgwarden_pool_wait_seconds",
                            "Time clients waited for a server connection", {"pool"})
                 .with(labels);
  pm.wait_timeouts = &metrics_
                          .counter("pgwarden_pool_wait_timeouts_total",
                                   "Clients refused after query_wait_timeout", {"pool"})
                          .with(labels);
  pm.transaction =
      &metrics_
           .histogram("pgwarden_transaction_duration_seconds",
                      "Transaction duration seen by the proxy, first request to idle", {"pool"})
           .with(labels);
  pm.query =
      &metrics_
           .histogram("pgwarden_query_duration_seconds",
                      "Request duration, from the client's request to ReadyForQuery", {"pool"})
           .with(labels);
  pm.received =
      &metrics_
           .counter("pgwarden_client_received_bytes_total", "Bytes received from clients", {"pool"})
           .with(labels);
  pm.sent = &metrics_.counter("pgwarden_client_sent_bytes_total", "Bytes sent to clients", {"pool"})
                 .with(labels);
  pm.tls_handshakes = &metrics_.counter(
      "pgwarden_server_tls_handshakes_total",
      "TLS handshakes with servers, by result: ok, or the reason they failed (unknown_ca, "
      "hostname_mismatch, cert_expired, refused, ...)",
      {"pool", "result"});
  // One HostSet per database, made with its first pool; its role monitor
  // logs in with that pool's server credentials.
  auto& hs = host_sets_[database];
  bool new_set = false;
  if (!hs) {
    const bool tracked = ps.hosts.size() > 1 || ps.attrs != TargetSessionAttrs::any;
    hs = std::make_shared<HostSet>(database, ps.hosts, tracked, cfg_.timeouts);
    new_set = tracked;
  }
  auto pool = std::make_shared<Pool>(*this, ps, ex_, pm);
  pool->hosts_ = hs;
  if (new_set) start_monitor(hs, ps);
  if (auto p = paused_dbs_.find(database); all_paused_ || p != paused_dbs_.end()) {
    pool->paused_ = true;
    pool->pause_cause_ = p != paused_dbs_.end() ? p->second : "admin_pause";
  }
  pools_[key] = pool;
  return pool;
}

void PoolManager::maintain_all() {
  std::vector<std::shared_ptr<Pool>> pools;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, p] : pools_) pools.push_back(p);
  }
  for (auto& p : pools) p->maintain();
}

std::vector<std::shared_ptr<Pool>> PoolManager::pools(const std::string& database) const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Pool>> out;
  for (auto& [k, p] : pools_)
    if (database.empty() || p->settings().database == database) out.push_back(p);
  return out;
}

std::vector<std::shared_ptr<Pool>> PoolManager::pause(const std::string& database,
                                                      const std::string& cause) {
  {
    std::lock_guard lock(mu_);
    if (database.empty())
      all_paused_ = true;
    else
      paused_dbs_[database] = cause;
  }
  auto affected = pools(database);
  for (auto& p : affected) p->pause(cause);
  return affected;
}

bool PoolManager::resume(const std::string& database) {
  {
    std::lock_guard lock(mu_);
    // A database cannot be resumed out of a global PAUSE: RESUME (all) first.
    if (!database.empty() && all_paused_) return false;
    if (database.empty()) {
      all_paused_ = false;
      paused_dbs_.clear();
    } else {
      paused_dbs_.erase(database);
    }
  }
  for (auto& p : pools(database)) {
    if (database.empty() || !is_paused(database)) p->resume();
  }
  return true;
}

bool PoolManager::is_paused(const std::string& database) const {
  std::lock_guard lock(mu_);
  return all_paused_ || paused_dbs_.count(database) > 0;
}

void PoolManager::reload_tls(const ProxyConfig& cfg) {
  std::vector<std::pair<std::shared_ptr<Pool>, std::shared_ptr<asio::ssl::context>>> fresh;
  for (auto& p : pools()) {
    const auto& ps = p->settings();
    if (ps.tls.sslmode == SslMode::disable) continue;  // a restart turns TLS on
    auto db = cfg.databases.find(ps.database);
    if (db == cfg.databases.end()) continue;  // removed: keeps serving until restart
    const ServerTls tls = db->second.tls.apply_to(cfg.server_tls);
    try {
      fresh.emplace_back(p, net::make_client_tls_context(tls.sslrootcert, tls.sslcert, tls.sslkey));
    } catch (const std::runtime_error& e) {
      throw ConfigError(fmt::format("databases.{}: {}", ps.database, e.what()));
    }
  }
  for (auto& [p, ctx] : fresh) p->set_tls_context(std::move(ctx));
}

void PoolManager::apply_sizes(const ProxyConfig& cfg) {
  {
    std::lock_guard lock(mu_);
    reloaded_ = cfg;
  }
  for (auto& p : pools()) {
    const auto& ps = p->settings();
    auto db = cfg.databases.find(ps.database);
    if (db == cfg.databases.end()) continue;  // removed: keeps serving until restart
    auto u = cfg.users.find(ps.user);
    PoolSizes sizes = sizes_for(cfg, db->second, u != cfg.users.end() ? &u->second : nullptr);
    p->resize(sizes.size, sizes.min_size, sizes.reserve_size);
  }
}

std::optional<HostTarget> PoolManager::target_endpoint(const std::string& database,
                                                       const std::string& user) {
  std::string sqlstate, error;
  auto pool = pool_for(database, user, sqlstate, error);
  if (!pool) return std::nullopt;
  return pool->target_endpoint();
}

std::map<std::string, std::shared_ptr<HostSet>> PoolManager::host_sets() const {
  std::lock_guard lock(mu_);
  return host_sets_;
}

void PoolManager::on_host_events(const std::string& database,
                                 std::vector<observe::ConnectionEvent> evs, bool changed,
                                 size_t host_index) {
  for (auto& ev : evs) bus_.publish(ev);
  if (!changed) return;
  for (auto& p : pools(database)) p->host_changed(host_index, "server_role_changed");
}

void PoolManager::note_served(const std::shared_ptr<HostSet>& hs) {
  auto ev = hs->note_served();
  if (!ev) return;
  fo_metrics_.total->with({ev->database}).inc();
  fo_metrics_.duration->with({ev->database})
      .observe(static_cast<double>(ev->first_served_ms) / 1000.0);
  spdlog::warn("failover of database {}: {}", ev->database, ev->message);
  bus_.publish(*ev);
}

void PoolManager::register_failover_metrics() {
  {
    fo_metrics_.total = &metrics_.counter("pgwarden_failovers_total",
                                          "Failovers ridden through: the writer lost, a writer "
                                          "found again and a transaction served",
                                          {"database"});
    fo_metrics_.duration = &metrics_.histogram(
        "pgwarden_failover_duration_seconds",
        "Time from the writer lost (first failure seen) to the first transaction served",
        {"database"}, {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120});
  }
}

PoolManager::~PoolManager() {
  stopping_->store(true);
}

std::vector<ServerInfo> PoolManager::servers() const {
  std::vector<ServerInfo> out;
  for (auto& p : pools()) p->list_servers(out);
  return out;
}

std::vector<PoolStats> PoolManager::stats() const {
  std::vector<std::shared_ptr<Pool>> pools;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, p] : pools_) pools.push_back(p);
  }
  std::vector<PoolStats> out;
  for (auto& p : pools) out.push_back(p->stats());
  return out;
}

}  // namespace pgw::pool

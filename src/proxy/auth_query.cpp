#include "pgwarden/proxy/auth_query.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include "pgwarden/net/stream.hpp"
#include "pgwarden/observe/ids.hpp"
#include "pgwarden/pool/login.hpp"
#include "pgwarden/wire/codec.hpp"

namespace pgw::proxy {

namespace asio = boost::asio;

namespace {

constexpr size_t kCacheSweepAt = 1024;
constexpr size_t kCacheMax = 100'000;

// What the client is told: what failed, never a secret.
ProxyError failed(const std::string& user, const std::string& sqlstate, const std::string& what) {
  return ProxyError(
      sqlstate,
      fmt::format("pgwarden could not look up user \"{}\" with auth_query: {}", user, what),
      "auth_query_failed");
}

}  // namespace

AuthQuery::AuthQuery(const ProxyConfig& cfg, pool::PoolManager& pools, observe::Registry& metrics)
    : cfg_(cfg),
      pools_(pools),
      queries_(metrics.counter("pgwarden_auth_query_total",
                               "auth_query lookups sent to a server, by result: found, not_found "
                               "(no row, NULL or empty secret), failed",
                               {"result"})),
      hits_(metrics
                .counter("pgwarden_auth_query_cache_hits_total",
                         "auth_query lookups answered without a query of their own: from the cache "
                         "(within auth_query_cache_ttl or auth_query_negative_cache_ttl), or by "
                         "the same user's lookup already under way")
                .with({})) {}

asio::awaitable<std::optional<std::string>> AuthQuery::lookup(const std::string& user,
                                                              const std::string& database) {
  const AuthQueryConfig& aq = cfg_.auth_query;
  auto db = cfg_.databases.find(database);
  if (db == cfg_.databases.end())
    throw failed(user, sqlstate::kConnectionFailure,
                 fmt::format("database \"{}\" is not configured", database));
  const DatabaseConfig& d = db->second;
  pool::PoolSettings ps;
  ps.database = database;
  ps.user = aq.user;
  ps.host = d.host;
  ps.port = d.port;
  ps.server_dbname = aq.dbname.empty() ? d.dbname : aq.dbname;
  ps.server_user = aq.user;
  // auth_user's own password: [databases.X] when it forces that user, else
  // [users]/auth_file; or the SCRAM keys of its own last login through pgwarden.
  if (d.user == aq.user && d.password) {
    ps.server_password = *d.password;
  } else {
    if (auto u = cfg_.users.find(aq.user); u != cfg_.users.end())
      ps.server_password = u->second.password;
    ps.learned = pools_.credentials().user(aq.user);
  }
  ps.timeouts = cfg_.timeouts;
  ps.keepalive = cfg_.keepalive;
  ps.tls = d.tls.apply_to(cfg_.server_tls);
  const auto key =
      std::make_pair(fmt::format("{}:{}/{}", ps.host, ps.port, ps.server_dbname), user);
  const auto ex = co_await asio::this_coro::executor;
  std::shared_ptr<Flight> flight, joined;
  std::shared_ptr<asio::steady_timer> wake;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (std::chrono::steady_clock::now() < it->second.expires) {
        hits_.inc();
        co_return it->second.secret;
      }
      cache_.erase(it);
    }
    if (auto it = flights_.find(key); it != flights_.end()) {
      // The same user is being looked up already: wait for that answer
      // instead of opening another server connection.
      joined = it->second;
      wake = std::make_shared<asio::steady_timer>(ex);
      wake->expires_at(asio::steady_timer::time_point::max());
      joined->waiters.emplace_back(wake->get_executor(), wake);
    } else {
      flight = std::make_shared<Flight>();
      flights_[key] = flight;
    }
  }
  if (joined) {
    boost::system::error_code ec;
    co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (joined->failure) throw *joined->failure;
    hits_.inc();
    co_return joined->secret;
  }
  try {
    flight->secret = co_await ask_server(ps, user);
  } catch (const ProxyError& e) {
    flight->failure = e;
  }
  queries_.with({flight->failure ? "failed" : flight->secret ? "found" : "not_found"}).inc();
  if (!flight->failure)
    spdlog::debug("auth_query for user \"{}\" on {}: {}", user, key.first,
                  flight->secret ? "a secret" : "no secret (unknown user)");
  const auto ttl = flight->secret ? aq.cache_ttl : aq.negative_cache_ttl;
  {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    flights_.erase(key);
    // Made-up user names must not grow the cache without bound: expired
    // entries go once it is large, and a full cache takes no more.
    if (!flight->failure && ttl.count() > 0) {
      if (cache_.size() >= kCacheSweepAt)
        std::erase_if(cache_, [&](const auto& entry) { return entry.second.expires <= now; });
      if (cache_.size() < kCacheMax) cache_[key] = Entry{flight->secret, now + ttl};
    }
    // Waiters read the flight's answer once woken: it no longer changes.
    for (auto& [executor, timer] : flight->waiters)
      asio::post(executor, [t = timer] { t->cancel(); });
  }
  if (flight->failure) throw *flight->failure;
  co_return flight->secret;
}

asio::awaitable<std::optional<std::string>> AuthQuery::ask_server(const pool::PoolSettings& ps,
                                                                  const std::string& user) {
  std::shared_ptr<asio::ssl::context> tls;
  if (ps.tls.sslmode != SslMode::disable) {
    try {
      tls = net::make_client_tls_context(ps.tls.sslrootcert, ps.tls.sslcert, ps.tls.sslkey);
    } catch (const std::exception& e) {
      throw failed(user, sqlstate::kConnectionFailure,
                   fmt::format("cannot set up TLS towards {}:{}: {}", ps.host, ps.port, e.what()));
    }
  }
  pool::ServerConn conn(co_await asio::this_coro::executor, observe::next_conn_id());
  struct Closer {
    pool::ServerConn& c;
    ~Closer() {
      if (!c.stream.socket().is_open()) return;
      if (!c.stream.tls()) {
        std::string bye;
        wire::terminate(bye);
        ::send(c.stream.socket().native_handle(), bye.data(), bye.size(),
               MSG_DONTWAIT | MSG_NOSIGNAL);
      }
      boost::system::error_code ec;
      c.stream.socket().close(ec);
    }
  } closer{conn};
  try {
    co_await pool::connect_and_login(conn, ps, tls);
  } catch (const ProxyError& e) {
    // A refused auth_user is a configuration problem (28000); anything else
    // is the server being unreachable (08006).
    const bool refused = e.sqlstate.starts_with("28");
    throw failed(
        user, refused ? sqlstate::kInvalidAuthorization : sqlstate::kConnectionFailure,
        fmt::format("auth_user \"{}\" could not log in to {}:{} database \"{}\" ({}): {}",
                    ps.server_user, ps.host, ps.port, ps.server_dbname, e.cause, e.message));
  }
  std::vector<std::string> row;
  std::string failure;
  if (!co_await pool::run_param_query(conn, cfg_.auth_query.query, user, failure, row))
    throw failed(user, sqlstate::kConnectionFailure,
                 fmt::format("the query failed on {}:{} database \"{}\": {}", ps.host, ps.port,
                             ps.server_dbname, failure));
  // PgBouncer's form: (name, secret); a one-column answer is the secret.
  std::string secret = row.size() >= 2 ? row[1] : row.empty() ? std::string() : row[0];
  if (secret.empty()) co_return std::nullopt;
  co_return secret;
}

}  // namespace pgw::proxy

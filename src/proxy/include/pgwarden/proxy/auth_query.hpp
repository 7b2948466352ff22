#pragma once
// auth_query (PgBouncer's auth_user/auth_query): the secrets of users the
// config does not list, read from the server by logging in as auth_user and
// running the query with the user name as its bound parameter, and cached
// with an expiry (answers "no such user" too, for less long). Clients of a
// user being looked up wait for that lookup rather than start their own.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/metrics.hpp"
#include "pgwarden/pool/pool.hpp"

namespace pgw::proxy {

class AuthQuery {
 public:
  AuthQuery(const ProxyConfig& cfg, pool::PoolManager& pools, observe::Registry& metrics);
  bool enabled() const { return !cfg_.auth_query.user.empty(); }
  // The stored secret of `user` for the server of `database` (an md5 hash,
  // a SCRAM verifier, or plaintext), or nullopt when the server has none (no
  // row, NULL or empty). Throws ProxyError with cause auth_query_failed when
  // the server could not be asked or the query failed (never cached).
  boost::asio::awaitable<std::optional<std::string>> lookup(const std::string& user,
                                                            const std::string& database);

 private:
  struct Entry {
    std::optional<std::string> secret;
    std::chrono::steady_clock::time_point expires;
  };
  // A lookup under way: clients of the same user wait for its answer (their
  // timers are cancelled, on their own executors, when it is in).
  struct Flight {
    std::optional<std::string> secret;
    std::optional<ProxyError> failure;
    std::vector<std::pair<boost::asio::any_io_executor, std::shared_ptr<boost::asio::steady_timer>>>
        waiters;
  };
  boost::asio::awaitable<std::optional<std::string>> ask_server(const pool::PoolSettings& ps,
                                                                const std::string& user);
  const ProxyConfig& cfg_;
  pool::PoolManager& pools_;
  observe::Family<observe::Counter>& queries_;  // pgwarden_auth_query_total{result}
  observe::Counter& hits_;                      // pgwarden_auth_query_cache_hits_total
  std::mutex mu_;
  // (server host:port/dbname, user) → answer
  std::map<std::pair<std::string, std::string>, Entry> cache_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Flight>> flights_;
};

}  // namespace pgw::proxy

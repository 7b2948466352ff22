#pragma once
// Server connection pools: one per (database, user), with a FIFO wait queue
// bounded by query_wait_timeout, a reserve, per-database and per-user server
// limits, lifetimes, idle timeouts and health checks before reuse.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/pool/errors.hpp"
#include "pgwarden/pool/server_conn.hpp"

namespace pgw::pool {

struct PoolSettings {
  std::string database;  // client-facing name
  std::string user;      // client-facing user
  std::string host;
  uint16_t port = 5432;
  std::string server_dbname;
  std::string server_user;
  std::string server_password;
  PoolMode mode = PoolMode::transaction;
  int size = 20;
  int min_size = 0;
  int reserve_size = 0;
  int max_db_connections = 0;
  int max_user_connections = 0;
  int max_prepared_statements = 200;
  std::string reset_query;
  bool reset_query_always = false;
  std::string check_query;
  Timeouts timeouts;
  Keepalive keepalive;
  std::string key() const { return database + "/" + user; }
};

struct PoolStats {
  std::string database, user, mode;
  int active = 0, idle = 0, opening = 0, waiting = 0, size = 0;
  uint64_t wait_timeouts = 0;
  uint64_t total_wait_us = 0;
  uint64_t acquired = 0;
  int64_t max_wait_ms = 0;
};

// Why a server connection is being closed.
struct CloseReason {
  std::string cause;
  std::string initiator = "proxy";
  std::string sqlstate;
  std::string message;
  int err_no = 0;
  std::string state = "idle";
  std::string client_impact;
};

class PoolManager;

class Pool {
 public:
  Pool(PoolManager& mgr, PoolSettings settings, asio::any_io_executor ex);
  const PoolSettings& settings() const { return settings_; }

  // Lends a server connection, waiting in FIFO order when none is free.
  // Throws ProxyError: query_wait_timeout, server_connect_failed, server_login_failed, ...
  asio::awaitable<ServerPtr> acquire();
  // Returns a healthy, idle (ReadyForQuery 'I') connection for reuse.
  void release(ServerPtr s);
  // Closes a connection for good and frees its slot.
  void close(ServerPtr s, const CloseReason& why);
  // Cleans a connection a client left (reset query / ROLLBACK), then releases or closes it.
  void reset_then_release(ServerPtr s, std::vector<std::string> sqls, std::string cause_if_fails);

  // Janitor duty: idle timeout, lifetime, liveness of idle connections, min_pool_size.
  void maintain();
  PoolStats stats() const;
  // The ParameterStatus set a new client is greeted with (from the latest login).
  std::map<std::string, std::string> welcome_params() const;
  bool has_welcome_params() const;

 private:
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex), executor(ex) {}
    asio::steady_timer timer;
    asio::any_io_executor executor;
    ServerPtr granted;
    bool may_open = false;
  };
  asio::awaitable<ServerPtr> open_new();
  bool can_open_locked(bool use_reserve) const;
  void record_wait(SteadyClock::time_point start);
  void take_slot_locked();
  void free_slot_locked();
  void wake_locked(const std::shared_ptr<Waiter>& w);
  // A slot was freed: the first waiter, if any, takes it to open a connection.
  void let_first_waiter_open_locked();
  void hand_over_locked(ServerPtr s, std::vector<ServerPtr>& to_close);
  void emit_close(const ServerPtr& s, const CloseReason& why);
  // An event about a server connection with the fields every server event carries.
  observe::ConnectionEvent server_event(const ServerConn& s, std::string event) const;
  // Inspects an idle connection without blocking; returns the close reason if dead.
  bool idle_conn_dead(ServerConn& s, CloseReason& why);

  PoolManager& mgr_;
  PoolSettings settings_;
  asio::any_io_executor ex_;
  std::deque<ServerPtr> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  int active_ = 0;
  int opening_ = 0;
  int slots_ = 0;  // active + idle + opening
  uint64_t wait_timeouts_ = 0, total_wait_us_ = 0, acquired_ = 0;
  int64_t max_wait_ms_ = 0;
  std::map<std::string, std::string> welcome_;
};

// All pools, their shared limits and the event bus. One mutex guards every
// pool: pool operations are short and per-transaction, not per-message.
class PoolManager {
 public:
  PoolManager(const ProxyConfig& cfg, observe::EventBus& bus, asio::any_io_executor ex);
  // The pool for a client (database, user); nullptr with `error` set if refused.
  std::shared_ptr<Pool> pool_for(const std::string& database, const std::string& user,
                                 std::string& error_sqlstate, std::string& error);
  void maintain_all();
  std::vector<PoolStats> stats() const;
  observe::EventBus& bus() { return bus_; }
  uint64_t next_server_id() { return ++server_ids_; }
  std::mutex& mutex() { return mu_; }
  const ProxyConfig& config() const { return cfg_; }

 private:
  friend class Pool;
  const ProxyConfig& cfg_;
  observe::EventBus& bus_;
  asio::any_io_executor ex_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pool>> pools_;
  std::map<std::string, int> db_servers_, user_servers_;
  std::atomic<uint64_t> server_ids_{0};
};

}  // namespace pgw::pool

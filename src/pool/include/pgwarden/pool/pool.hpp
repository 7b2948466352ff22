#pragma once
// Server connection pools: one per (database, user), with a FIFO wait queue
// bounded by query_wait_timeout, a reserve, per-database and per-user server
// limits, lifetimes, idle timeouts and health checks before reuse.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pgwarden/core/config.hpp"
#include "pgwarden/net/stream.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/observe/metrics.hpp"
#include "pgwarden/pool/credentials.hpp"
#include "pgwarden/pool/errors.hpp"
#include "pgwarden/pool/hosts.hpp"
#include "pgwarden/pool/server_conn.hpp"

namespace pgw::pool {

struct PoolSettings {
  std::string database;  // client-facing name
  std::string user;      // client-facing user
  std::string host;      // the database's first host; open_new dials HostSet::pick's
  uint16_t port = 5432;
  std::vector<HostPort> hosts;  // every host of the database
  TargetSessionAttrs attrs = TargetSessionAttrs::any;
  std::string server_dbname;
  std::string server_user;
  // Plaintext, or an md5 hash / SCRAM verifier ([users], auth_file).
  std::string server_password;
  // The server user's credentials learnt from its clients' logins (auth_query's
  // secret, SCRAM pass-through keys); null when [databases.X] forces another
  // user or gives a password.
  std::shared_ptr<UserCredentials> learned;
  // What the login answers with: server_password, else the learnt secret.
  std::string stored_secret() const;
  // Only a SCRAM verifier is known and no client has lent its keys yet: a
  // login cannot succeed (min_pool_size waits for a client).
  bool awaits_scram_keys() const;
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
  ServerTls tls;  // sslmode, certificates, require_auth, channel_binding
  // Built from `tls` when the pool is created (null with sslmode = disable);
  // Pool::tls_context() has the current one (RELOAD reads the files again).
  std::shared_ptr<boost::asio::ssl::context> tls_context;
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

// Per-pool metric handles, resolved once so the hot path is a relaxed atomic.
struct PoolMetrics {
  observe::Histogram* wait = nullptr;         // pgwarden_pool_wait_seconds
  observe::Counter* wait_timeouts = nullptr;  // pgwarden_pool_wait_timeouts_total
  observe::Histogram* transaction = nullptr;  // pgwarden_transaction_duration_seconds
  observe::Histogram* query = nullptr;        // pgwarden_query_duration_seconds
  observe::Counter* received = nullptr;       // pgwarden_client_received_bytes_total
  observe::Counter* sent = nullptr;           // pgwarden_client_sent_bytes_total
  // pgwarden_server_tls_handshakes_total{pool, result}: ok, or why it failed.
  observe::Family<observe::Counter>* tls_handshakes = nullptr;
};

// One server connection as the admin views show it.
struct ServerInfo {
  uint64_t id = 0;
  std::string database, user, pool, backend, local_addr;
  uint16_t local_port = 0;
  uint32_t backend_pid = 0;
  std::string state;  // active | idle
  uint64_t client_id = 0;
  std::chrono::system_clock::time_point connected_at, last_used;
  size_t prepared = 0;
  std::string tls;  // "TLSv1.3/<cipher>", "" for plaintext
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

// Lets the one who asked for a connection withdraw while it waits (its client
// has gone): the wait ends with ProxyError `client_gone_while_waiting` and
// nothing is lent. Used from the requester's own executor.
class WaitAbandon {
 public:
  void abandon() {
    abandoned_ = true;
    if (wake_) wake_();
  }
  bool abandoned() const { return abandoned_; }

 private:
  friend class Pool;
  bool abandoned_ = false;
  std::function<void()> wake_;
};

class Pool {
 public:
  Pool(PoolManager& mgr, PoolSettings settings, asio::any_io_executor ex, PoolMetrics metrics);
  const PoolSettings& settings() const { return settings_; }

  // Lends a server connection, waiting in FIFO order when none is free (and
  // while the pool is paused); `on_wait` runs once if the caller has to wait.
  // Throws ProxyError: query_wait_timeout, server_connect_failed, server_login_failed,
  // client_gone_while_waiting (after `abandon` fired), ...
  asio::awaitable<ServerPtr> acquire(const std::function<void()>& on_wait = {},
                                     std::shared_ptr<WaitAbandon> abandon = nullptr);
  // Returns a healthy, idle (ReadyForQuery 'I') connection for reuse.
  void release(ServerPtr s);
  // Closes a connection for good and frees its slot.
  void close(ServerPtr s, const CloseReason& why);
  // Cleans a connection a client left (reset query / ROLLBACK), then releases or closes it.
  void reset_then_release(ServerPtr s, std::vector<std::string> sqls, std::string cause_if_fails);

  // Janitor duty: idle timeout, lifetime, liveness of idle connections, min_pool_size.
  void maintain();
  PoolStats stats() const;
  const PoolMetrics& metrics() const { return metrics_; }
  void list_servers(std::vector<ServerInfo>& out) const;

  // PAUSE / KILL: no more lending; idle connections close now, lent ones when
  // returned (with `cause`: admin_pause or admin_kill). RESUME lends again.
  void pause(const std::string& cause);
  void resume();
  bool paused() const;
  int lent_or_opening() const;  // what PAUSE waits for
  // RELOAD: new sizes apply to the next checkout.
  void resize(int size, int min_size, int reserve_size);
  // The TLS context new server connections use; RELOAD replaces it (open
  // connections keep theirs).
  std::shared_ptr<boost::asio::ssl::context> tls_context() const;
  void set_tls_context(std::shared_ptr<boost::asio::ssl::context> ctx);

  // The ParameterStatus set a new client is greeted with (from the latest login).
  std::map<std::string, std::string> welcome_params() const;
  bool has_welcome_params() const;

  // THE host selection: the endpoint a new server connection of this pool
  // should go to now (per target_session_attrs and what the role monitor
  // knows), or nullopt when none fits (a read-write pool without a writer:
  // hold). Replication connections use it too.
  std::optional<HostTarget> target_endpoint() const;
  const std::shared_ptr<HostSet>& hosts() const { return hosts_; }
  // The role monitor saw a host's role change: idle links to it close now
  // (cause server_role_changed), lent ones when returned.
  void host_changed(size_t host_index, const std::string& cause);

 private:
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex), executor(ex) {}
    asio::steady_timer timer;
    asio::any_io_executor executor;
    ServerPtr granted;
    bool may_open = false;
  };
  asio::awaitable<ServerPtr> open_new();
  asio::awaitable<ServerPtr> acquire_once(const std::function<void()>& on_wait,
                                          const std::shared_ptr<WaitAbandon>& abandon);
  // After login: does the server's role fit attrs? Closes it and throws
  // server_not_writer / server_not_standby when not.
  asio::awaitable<void> verify_role(ServerPtr s);
  void publish_host_events(std::vector<observe::ConnectionEvent> evs, bool changed,
                           size_t host_index);
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
  void close_idle_locked(const CloseReason& why,
                         std::vector<std::pair<ServerPtr, CloseReason>>& out);

  friend class PoolManager;
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
  PoolMetrics metrics_;
  std::map<uint64_t, std::weak_ptr<ServerConn>>
      servers_;  // every open connection, for SHOW SERVERS
  bool paused_ = false;
  std::string pause_cause_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // guarded by mgr_.mu_
  std::shared_ptr<HostSet> hosts_;                          // shared by the database's pools
};

// All pools, their shared limits and the event bus. One mutex guards every
// pool: pool operations are short and per-transaction, not per-message.
class PoolManager {
 public:
  PoolManager(const ProxyConfig& cfg, observe::EventBus& bus, observe::Registry& metrics,
              asio::any_io_executor ex);
  // The pool for a client (database, user); nullptr with `error` set if refused.
  std::shared_ptr<Pool> pool_for(const std::string& database, const std::string& user,
                                 std::string& error_sqlstate, std::string& error);
  void maintain_all();
  // PAUSE / KILL / RESUME for one database or all (empty); pools created
  // later for a paused database start paused. Returns the pools affected.
  std::vector<std::shared_ptr<Pool>> pause(const std::string& database, const std::string& cause);
  // False (nothing done) for one database while all are paused.
  bool resume(const std::string& database);
  bool is_paused(const std::string& database) const;
  // RELOAD: pool sizes from a new config, applied to existing pools.
  void apply_sizes(const ProxyConfig& cfg);
  // RELOAD: reads every pool's certificate and key files again (paths from
  // `cfg`). All or nothing: throws ConfigError naming the database and file,
  // and then changes nothing.
  void reload_tls(const ProxyConfig& cfg);
  std::vector<PoolStats> stats() const;
  std::vector<ServerInfo> servers() const;
  // The pools of one database, or all of them when `database` is empty.
  std::vector<std::shared_ptr<Pool>> pools(const std::string& database = {}) const;
  observe::EventBus& bus() { return bus_; }
  observe::Registry& metrics() { return metrics_; }
  uint64_t next_server_id() { return ++server_ids_; }
  std::mutex& mutex() { return mu_; }
  const ProxyConfig& config() const { return cfg_; }
  // Per-user secrets and SCRAM keys learnt from client logins.
  CredentialStore& credentials() { return credentials_; }

  // Host selection for a (database, user) pool, creating the pool if needed:
  // see Pool::target_endpoint. nullopt also when the pool cannot be made.
  std::optional<HostTarget> target_endpoint(const std::string& database, const std::string& user);
  // The hosts of every tracked database (SHOW HOSTS, /api/hosts, metrics).
  std::map<std::string, std::shared_ptr<HostSet>> host_sets() const;
  // Host events (role changes, quarantine) and their effects on pools: links
  // of older epochs close; a new writer wakes the pools' holders.
  void on_host_events(const std::string& database, std::vector<observe::ConnectionEvent> evs,
                      bool changed, size_t host_index);
  // A lent link of a read-write pool served a client: ends a failover.
  void note_served(const std::shared_ptr<HostSet>& hs);
  ~PoolManager();

 private:
  friend class Pool;
  CredentialStore credentials_;
  const ProxyConfig& cfg_;
  observe::EventBus& bus_;
  observe::Registry& metrics_;
  asio::any_io_executor ex_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pool>> pools_;
  std::map<std::string, int> db_servers_, user_servers_;
  bool all_paused_ = false;
  std::map<std::string, std::string> paused_dbs_;  // database → pause cause
  std::optional<ProxyConfig> reloaded_;            // the latest RELOAD, for new pools' sizes
  std::atomic<uint64_t> server_ids_{0};
  // One HostSet and one role monitor per database (its first pool's server
  // credentials log the monitor in).
  std::map<std::string, std::shared_ptr<HostSet>> host_sets_;
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  void start_monitor(std::shared_ptr<HostSet> hs, PoolSettings login);
  void register_failover_metrics();
  struct FailoverMetrics {
    observe::Family<observe::Counter>* total = nullptr;
    observe::Family<observe::Histogram>* duration = nullptr;
  } fo_metrics_;
};

}  // namespace pgw::pool

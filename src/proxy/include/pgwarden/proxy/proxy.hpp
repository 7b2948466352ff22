#pragma once
// The data plane: listeners, worker threads, client sessions, cancel routing
// and the janitor that enforces timeouts. Knows nothing of HTTP.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/pool/capacity.hpp"
#include "pgwarden/pool/pool.hpp"
#include "pgwarden/proxy/auth_query.hpp"
#include "pgwarden/proxy/statement_registry.hpp"
#include "pgwarden/wire/auth.hpp"

namespace pgw::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Session;
struct ClientInfo;

class Proxy {
 public:
  Proxy(ProxyConfig cfg, observe::EventBus& bus, observe::Registry& metrics);
  ~Proxy();

  // Binds every listener; throws std::runtime_error naming the address on failure.
  void bind();
  // Runs the worker threads until stop(); returns when they are done.
  void run();
  void stop();
  // SIGTERM: new logins get FATAL 57P03, idle clients FATAL 57P01, clients in
  // a transaction or a request get `timeouts.shutdown_grace` to finish (each
  // is told 57P01 as soon as it is idle); then everyone left is told and the
  // proxy stops. Callable from any thread; stop() still ends it at once.
  void drain();
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  std::vector<HostPort> bound() const { return bound_; }

  const ProxyConfig& config() const { return cfg_; }
  pool::PoolManager& pools() { return pools_; }
  observe::EventBus& bus() { return bus_; }
  observe::Registry& metrics() { return metrics_; }
  // pgwarden_errors_total{sqlstate, source}: an ErrorResponse a client received.
  void count_error(const std::string& sqlstate, const char* source);
  std::vector<ClientInfo> clients() const;
  double uptime_seconds() const;
  // The latest max_connections probe per backend ([admin] headroom_interval).
  std::vector<pool::ServerCapacity> capacities() const;
  // RELOAD / SIGHUP: re-reads the config file and applies pool sizes; returns
  // "" or why nothing changed.
  std::string reload();
  // `overrides` re-applies command-line flags to a reloaded file.
  void set_config_source(std::string path, std::function<void(ProxyConfig&)> overrides) {
    config_path_ = std::move(path);
    overrides_ = std::move(overrides);
  }
  // Every registered session of `database` (all when empty).
  std::vector<std::shared_ptr<Session>> sessions(const std::string& database = {}) const;
  StatementRegistry& statements() { return statements_; }
  asio::io_context& io() { return ioc_; }

  // The SCRAM verifier for a user (computed once from a plaintext password).
  std::optional<wire::ScramSecret> scram_secret(const std::string& user);
  // TLS towards clients (client_tls_*): the context new connections use;
  // null when client_tls_sslmode = disable. RELOAD swaps it.
  std::shared_ptr<asio::ssl::context> client_tls_context() const;
  // pgwarden_client_tls_handshakes_total{result}: "ok" or a failure reason.
  void count_client_tls_handshake(const std::string& result);
  // Secrets of users the config does not list (auth_user/auth_query).
  AuthQuery& auth_query() { return auth_query_; }
  // A verifier no password matches, with a salt that is stable per user name
  // (wire::ScramSecret::mock), for logins that will be refused.
  wire::ScramSecret scram_mock(const std::string& user) const;

  // Client admission, decided when a connection is accepted: every admitted
  // connection counts against max_client_conn from accept until it closes,
  // and against max_unauthenticated_clients until it has authenticated.
  struct Refusal {
    std::string cause;    // max_client_conn | max_unauthenticated_clients
    std::string message;  // FATAL 53300 text naming the limit
  };
  // Why the connection was refused at accept; nullopt when it was admitted.
  std::optional<Refusal> refusal(uint64_t session_id) const;
  // A connection refused for max_client_conn that asks for the admin console
  // is admitted after all (operators can reach a full proxy), if
  // max_unauthenticated_clients allows. Returns whether it was.
  bool admit_console(uint64_t session_id);
  // The client has authenticated: it stops counting as unauthenticated.
  void client_authenticated(uint64_t session_id);
  // The connection is ending: its slot is free (also done when it
  // unregisters, and when its coroutine ends; later calls do nothing).
  void release_slot(uint64_t session_id);

  // Session registry, used for cancel routing, limits and the janitor.
  uint32_t register_session(const std::shared_ptr<Session>& s);
  void unregister_session(uint32_t key_pid);
  std::shared_ptr<Session> find_session(uint32_t key_pid);
  int logged_in_clients() const { return logged_in_.load(); }
  std::atomic<int>& logged_in_counter() { return logged_in_; }
  size_t session_count() const;

 private:
  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor);
  enum class Slot : uint8_t {
    admitted,
    authenticated,
    refused_max_client_conn,
    refused_max_unauthenticated
  };
  // Counts a new connection in; `drop` when it is refused while as many
  // refusals as allowed are already waiting for their startup packets.
  Slot admit(bool& drop);
  std::string refusal_text(Slot slot) const;
  // Runs one session and frees its slot when it ends (or is destroyed).
  asio::awaitable<void> serve(std::shared_ptr<Session> session);
  asio::awaitable<void> janitor();
  asio::awaitable<void> drain_sessions();
  asio::awaitable<void> capacity_prober();
  void register_metrics();
  void register_replication_metrics();  // gauges of replication connections

  ProxyConfig cfg_;
  observe::EventBus& bus_;
  observe::Registry& metrics_;
  observe::Family<observe::Counter>& errors_;
  observe::Family<observe::Counter>& client_tls_handshakes_;
  mutable std::mutex client_tls_mu_;
  std::shared_ptr<asio::ssl::context> client_tls_ctx_;
  // Admission state. Declared before ioc_: sessions' coroutines destroyed with
  // the io_context release their slots here.
  mutable std::mutex slots_mu_;
  std::unordered_map<uint64_t, Slot> slots_;
  int open_clients_ = 0, unauthenticated_ = 0, refusing_ = 0;
  asio::io_context ioc_;
  pool::PoolManager pools_;
  AuthQuery auth_query_;
  StatementRegistry statements_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<HostPort> bound_;
  std::string config_path_;
  std::function<void(ProxyConfig&)> overrides_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};

  mutable std::mutex sessions_mu_;
  std::unordered_map<uint32_t, std::weak_ptr<Session>> sessions_;
  uint32_t next_key_pid_;
  std::atomic<int> logged_in_{0};

  mutable std::mutex capacity_mu_;
  std::map<std::string, pool::ServerCapacity> capacities_;

  std::mutex scram_mu_;
  std::unordered_map<std::string, wire::ScramSecret> scram_cache_;
  const std::string scram_mock_key_ = wire::random_bytes(32);
};

}  // namespace pgw::proxy

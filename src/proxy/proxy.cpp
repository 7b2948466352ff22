#include "pgwarden/proxy/proxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include "pgwarden/proxy/session.hpp"

namespace pgw::proxy {

using asio::use_awaitable;

Proxy::Proxy(ProxyConfig cfg, observe::EventBus& bus, observe::Registry& metrics)
    : cfg_(std::move(cfg)),
      bus_(bus),
      metrics_(metrics),
      errors_(metrics.counter("pgwarden_errors_total",
                              "ErrorResponses clients received, by SQLSTATE and by who raised it",
                              {"sqlstate", "source"})),
      client_tls_handshakes_(metrics.counter(
          "pgwarden_client_tls_handshakes_total",
          "TLS handshakes with clients, by result (ok or the failure's reason)", {"result"})),
      pools_(cfg_, bus_, metrics_, ioc_.get_executor()),
      auth_query_(cfg_, pools_, metrics_) {
  if (cfg_.client_tls.sslmode != SslMode::disable)
    client_tls_ctx_ = net::make_server_tls_context(cfg_.client_tls, wire::kAlpnProtocol);
  auto r = wire::random_bytes(4);
  // Client-visible backend pids: a random start keeps two proxies apart.
  next_key_pid_ = (wire::read_u32(r.data()) & 0x3fffffff) | 1;
  register_metrics();
}

Proxy::~Proxy() {
  stop();
}

void Proxy::bind() {
  for (const auto& hp : cfg_.listen) {
    auto acc = std::make_unique<tcp::acceptor>(ioc_);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(hp.host, ec);
    if (ec) throw std::runtime_error(fmt::format("listen address {}: {}", hp.str(), ec.message()));
    tcp::endpoint ep(addr, hp.port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(4096, ec);
    if (ec)
      throw std::runtime_error(fmt::format("cannot listen on {}: {}", hp.str(), ec.message()));
    auto local = acc->local_endpoint();
    bound_.push_back({local.address().to_string(), local.port()});
    acceptors_.push_back(std::move(acc));
  }
}

void Proxy::run() {
  for (auto& acc : acceptors_) asio::co_spawn(ioc_, accept_loop(*acc), asio::detached);
  asio::co_spawn(ioc_, janitor(), asio::detached);
  // Probing costs a login per interval: only when someone can read it.
  if (cfg_.admin.headroom_interval.count() > 0 && (cfg_.admin.listen || !cfg_.alerts.rules.empty()))
    asio::co_spawn(ioc_, capacity_prober(), asio::detached);
  int n = cfg_.workers > 0 ? cfg_.workers : static_cast<int>(std::thread::hardware_concurrency());
  if (n < 1) n = 1;
  for (int i = 1; i < n; ++i) threads_.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Proxy::stop() {
  if (stopping_.exchange(true)) return;
  ioc_.stop();
}

void Proxy::drain() {
  if (draining_.exchange(true)) return;
  asio::co_spawn(ioc_, drain_sessions(), asio::detached);
}

asio::awaitable<void> Proxy::drain_sessions() {
  const auto grace = cfg_.timeouts.shutdown_grace;
  const auto deadline = SteadyClock::now() + grace;
  spdlog::info("draining: {} clients, up to {} for open transactions", session_count(),
               format_duration(grace));
  asio::steady_timer timer(ioc_);
  for (;;) {
    const bool expired = SteadyClock::now() >= deadline;
    size_t left = 0;
    for (auto& s : sessions()) {
      ++left;
      if (expired)
        s->terminate("proxy_shutdown", sqlstate::kAdminShutdown,
                     fmt::format("terminating connection: pgwarden is shutting down and "
                                 "shutdown_grace ({}) has passed",
                                 format_duration(grace)));
      else
        s->end_if_idle("proxy_shutdown", sqlstate::kAdminShutdown,
                       "terminating connection: pgwarden is shutting down");
    }
    if (left == 0 || stopping_) break;
    if (expired) {
      // Give the goodbyes a moment to be written, then stop regardless.
      timer.expires_after(std::chrono::milliseconds(500));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
      break;
    }
    timer.expires_after(std::chrono::milliseconds(50));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  stop();
}

asio::awaitable<void> Proxy::accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto strand = asio::make_strand(ioc_.get_executor());
    boost::system::error_code ec;
    tcp::socket sock =
        co_await acceptor.async_accept(strand, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) co_return;
      // EMFILE and friends: log, back off briefly, keep serving the others.
      spdlog::error("accept on {}: {}", acceptor.local_endpoint().port(), ec.message());
      asio::steady_timer t(ioc_, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    bool drop = false;
    const Slot slot = admit(drop);
    if (drop) {
      // Refusals already linger at their cap: no session, no wait for the
      // startup packet; the FATAL goes out if the socket takes it at once.
      std::string out;
      wire::error_response(out, {"FATAL", sqlstate::kTooManyConnections, refusal_text(slot)});
      count_error(sqlstate::kTooManyConnections, "proxy");
      ::send(sock.native_handle(), out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      boost::system::error_code ignored;
      sock.close(ignored);
      continue;
    }
    auto session = std::make_shared<Session>(*this, strand, std::move(sock));
    {
      std::lock_guard lock(slots_mu_);
      slots_[session->id()] = slot;
    }
    asio::co_spawn(strand, serve(std::move(session)), asio::detached);
  }
}

Proxy::Slot Proxy::admit(bool& drop) {
  std::lock_guard lock(slots_mu_);
  drop = false;
  if (open_clients_ < cfg_.max_client_conn && unauthenticated_ < cfg_.max_unauthenticated_clients) {
    ++open_clients_;
    ++unauthenticated_;
    return Slot::admitted;
  }
  const Slot slot = open_clients_ >= cfg_.max_client_conn ? Slot::refused_max_client_conn
                                                          : Slot::refused_max_unauthenticated;
  // Refused connections wait briefly for their startup packet; as many of
  // them as max_unauthenticated_clients at most.
  if (refusing_ >= cfg_.max_unauthenticated_clients)
    drop = true;
  else
    ++refusing_;
  return slot;
}

std::string Proxy::refusal_text(Slot slot) const {
  if (slot == Slot::refused_max_client_conn)
    return fmt::format("pgwarden: too many client connections (max_client_conn = {})",
                       cfg_.max_client_conn);
  return fmt::format(
      "pgwarden: too many clients logging in at once "
      "(max_unauthenticated_clients = {})",
      cfg_.max_unauthenticated_clients);
}

void Proxy::release_slot(uint64_t session_id) {
  std::lock_guard lock(slots_mu_);
  auto it = slots_.find(session_id);
  if (it == slots_.end()) return;
  switch (it->second) {
    case Slot::admitted:
      --unauthenticated_;
      --open_clients_;
      break;
    case Slot::authenticated:
      --open_clients_;
      break;
    case Slot::refused_max_client_conn:
    case Slot::refused_max_unauthenticated:
      --refusing_;
      break;
  }
  slots_.erase(it);
}

std::optional<Proxy::Refusal> Proxy::refusal(uint64_t session_id) const {
  std::lock_guard lock(slots_mu_);
  auto it = slots_.find(session_id);
  if (it == slots_.end()) return std::nullopt;
  if (it->second == Slot::refused_max_client_conn)
    return Refusal{"max_client_conn", refusal_text(it->second)};
  if (it->second == Slot::refused_max_unauthenticated)
    return Refusal{"max_unauthenticated_clients", refusal_text(it->second)};
  return std::nullopt;
}

bool Proxy::admit_console(uint64_t session_id) {
  std::lock_guard lock(slots_mu_);
  auto it = slots_.find(session_id);
  if (it == slots_.end() || it->second != Slot::refused_max_client_conn ||
      unauthenticated_ >= cfg_.max_unauthenticated_clients)
    return false;
  it->second = Slot::admitted;
  --refusing_;
  ++open_clients_;
  ++unauthenticated_;
  return true;
}

void Proxy::client_authenticated(uint64_t session_id) {
  std::lock_guard lock(slots_mu_);
  auto it = slots_.find(session_id);
  if (it == slots_.end() || it->second != Slot::admitted) return;
  it->second = Slot::authenticated;
  --unauthenticated_;
}

asio::awaitable<void> Proxy::serve(std::shared_ptr<Session> session) {
  struct Release {
    Proxy& proxy;
    uint64_t id;
    ~Release() { proxy.release_slot(id); }
  } release{*this, session->id()};
  co_await session->run();
}

asio::awaitable<void> Proxy::janitor() {
  asio::steady_timer timer(ioc_);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(200));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (stopping_) co_return;
    auto now = SteadyClock::now();
    std::vector<std::shared_ptr<Session>> due;
    {
      std::lock_guard lock(sessions_mu_);
      for (auto& [k, w] : sessions_) {
        if (auto s = w.lock(); s && s->maybe_timed_out(now)) due.push_back(std::move(s));
      }
    }
    for (auto& s : due) s->check_timeouts();
    // Every tick: a dead idle connection is found within 200 ms, so its
    // idle_ms (what forensics clusters on) is the middlebox's cut, not our lag.
    pools_.maintain_all();
  }
}

wire::ScramSecret Proxy::scram_mock(const std::string& user) const {
  return wire::ScramSecret::mock(user, scram_mock_key_);
}

std::optional<wire::ScramSecret> Proxy::scram_secret(const std::string& user) {
  std::lock_guard lock(scram_mu_);
  if (auto it = scram_cache_.find(user); it != scram_cache_.end()) return it->second;
  auto u = cfg_.users.find(user);
  if (u == cfg_.users.end()) return std::nullopt;
  const std::string& pw = u->second.password;
  std::optional<wire::ScramSecret> secret = wire::ScramSecret::parse(pw);
  if (!secret) {
    if (wire::is_md5_hash(pw)) return std::nullopt;  // cannot derive SCRAM
    secret = wire::ScramSecret::from_password(pw, wire::random_bytes(16), 4096);
  }
  scram_cache_.emplace(user, *secret);
  return secret;
}

uint32_t Proxy::register_session(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(sessions_mu_);
  uint32_t pid;
  do {
    pid = next_key_pid_++ & 0x7fffffff;
  } while (pid == 0 || sessions_.count(pid));
  sessions_[pid] = s;
  return pid;
}

void Proxy::unregister_session(uint32_t key_pid) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(sessions_mu_);
    if (auto it = sessions_.find(key_pid); it != sessions_.end()) {
      s = it->second.lock();
      sessions_.erase(it);
    }
  }
  // A session unregisters right after closing its socket: its slot is free
  // from then on, not only once its close event is out (serve() releases it
  // too, for a session that never got this far).
  if (s) release_slot(s->id());
}

std::shared_ptr<Session> Proxy::find_session(uint32_t key_pid) {
  std::lock_guard lock(sessions_mu_);
  auto it = sessions_.find(key_pid);
  return it == sessions_.end() ? nullptr : it->second.lock();
}

void Proxy::count_error(const std::string& sqlstate, const char* source) {
  errors_.with({sqlstate.empty() ? "unknown" : sqlstate, source}).inc();
}

std::vector<std::shared_ptr<Session>> Proxy::sessions(const std::string& database) const {
  std::vector<std::shared_ptr<Session>> out;
  std::lock_guard lock(sessions_mu_);
  for (auto& [k, w] : sessions_) {
    auto s = w.lock();
    if (s && (database.empty() || s->info().database == database)) out.push_back(std::move(s));
  }
  return out;
}

std::vector<ClientInfo> Proxy::clients() const {
  std::vector<ClientInfo> out;
  for (auto& s : sessions()) out.push_back(s->info());
  return out;
}

double Proxy::uptime_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

std::string Proxy::reload() {
  if (config_path_.empty())
    return "pgwarden: RELOAD needs a config file; this proxy was started from command-line flags";
  try {
    ProxyConfig fresh = load_config_file(config_path_);
    if (overrides_) overrides_(fresh);
    validate(fresh);
    // Certificates first, all or nothing, before anything changes. The
    // client_tls_sslmode itself stays as started (a restart changes it).
    std::shared_ptr<asio::ssl::context> client_ctx;
    if (cfg_.client_tls.sslmode != SslMode::disable) {
      ClientTls files = fresh.client_tls;
      files.sslmode = cfg_.client_tls.sslmode;
      try {
        client_ctx = net::make_server_tls_context(files, wire::kAlpnProtocol);
      } catch (const std::runtime_error& e) {
        throw ConfigError(fmt::format("proxy: {}", e.what()));
      }
    }
    pools_.reload_tls(fresh);
    pools_.apply_sizes(fresh);
    if (client_ctx) {
      std::lock_guard lock(client_tls_mu_);
      client_tls_ctx_ = std::move(client_ctx);
    }
  } catch (const ConfigError& e) {
    return fmt::format("pgwarden: RELOAD failed, configuration unchanged: {}", e.what());
  }
  observe::ConnectionEvent ev;
  ev.event = "proxy.reload";
  ev.message = "pool sizes and TLS certificates reloaded from " + config_path_;
  bus_.publish(ev);
  spdlog::info("reloaded pool sizes and TLS certificates from {}", config_path_);
  return {};
}

std::shared_ptr<asio::ssl::context> Proxy::client_tls_context() const {
  std::lock_guard lock(client_tls_mu_);
  return client_tls_ctx_;
}

void Proxy::count_client_tls_handshake(const std::string& result) {
  client_tls_handshakes_.with({result}).inc();
}

size_t Proxy::session_count() const {
  std::lock_guard lock(sessions_mu_);
  return sessions_.size();
}

}  // namespace pgw::proxy

// `pgwarden proxy`: run the pooling proxy from a TOML file or from flags.
#include <algorithm>
#include <csignal>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "pgwarden/admin/api.hpp"
#include "pgwarden/admin/monitor.hpp"
#include "pgwarden/core/log.hpp"
#include "pgwarden/export/sink_factory.hpp"
#include "pgwarden/net/stream.hpp"
#include "pgwarden/observe/event_metrics.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/wire/codec.hpp"

namespace pgw::cli {

namespace {

struct ProxyFlags {
  std::string config;
  std::vector<std::string> listen;
  std::string backend;
  std::string mode;
  int pool_size = 0;
  int workers = -1;
  int max_client_conn = 0;
  std::string auth;
  std::vector<std::string> events;
  std::string admin;
  std::string log_level = "info";
  bool summary = false;
};

void print_summary(const observe::EventBus& bus) {
  auto events = bus.event_counts();
  auto closes = bus.close_counts();
  std::cerr << "\npgwarden proxy: what it saw\n";
  for (auto& [name, n] : events) std::cerr << fmt::format("  {:<24} {:>8}\n", name, n);
  if (!closes.empty()) {
    std::cerr << "  closes by side / initiator / cause:\n";
    for (auto& [k, n] : closes)
      std::cerr << fmt::format("    {:<7} {:<9} {:<28} {:>8}\n", k.side, k.initiator, k.cause, n);
  }
}

// Command-line flags over the file's values; applied again on RELOAD so a
// reload never silently drops them. Throws ConfigError.
void apply_flags(const ProxyFlags& f, ProxyConfig& cfg) {
  if (!f.backend.empty()) add_backend_url(cfg, f.backend);
  if (!f.listen.empty()) {
    cfg.listen.clear();
    for (auto& l : f.listen) {
      auto hp = parse_host_port(l);
      if (!hp) throw ConfigError(fmt::format("--listen {}: expected HOST:PORT", l));
      cfg.listen.push_back(*hp);
    }
  }
  if (!f.mode.empty()) {
    if (f.mode == "session")
      cfg.pool_mode = PoolMode::session;
    else if (f.mode == "transaction")
      cfg.pool_mode = PoolMode::transaction;
    else
      throw ConfigError("--mode must be session or transaction");
  }
  if (!f.admin.empty()) {
    // A bare port means loopback: the API must not be exposed by accident.
    std::string spec = f.admin.find(':') == std::string::npos ? "127.0.0.1:" + f.admin : f.admin;
    if (spec.front() == ':') spec = "127.0.0.1" + spec;
    auto hp = parse_host_port(spec);
    if (!hp) throw ConfigError(fmt::format("--admin {}: expected HOST:PORT or PORT", f.admin));
    cfg.admin.listen = *hp;
  }
  if (f.pool_size > 0) cfg.default_pool_size = f.pool_size;
  if (f.workers >= 0) cfg.workers = f.workers;
  if (f.max_client_conn > 0) cfg.max_client_conn = f.max_client_conn;
  if (!f.auth.empty()) {
    auto parsed = parse_config("[proxy]\nauth_type = \"" + f.auth + "\"\n", "--auth");
    cfg.auth_type = parsed.auth_type;
  }
}

int run_proxy(const ProxyFlags& f) {
  setup_logging(f.log_level);
  // SIGINT/SIGTERM stop, SIGHUP reloads, SIGUSR1 reopens event files. Blocked
  // before any thread starts (sinks, admin, monitor, workers) so that only the
  // watcher thread below receives them: an unblocked thread would take the
  // default action, which ends the process.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  ProxyConfig cfg;
  try {
    if (!f.config.empty()) cfg = load_config_file(f.config);
    apply_flags(f, cfg);
    if (cfg.source.empty()) cfg.source = "command line";
    validate(cfg);
    observe::validate_forensics(cfg.forensics);
    observe::validate_alerts(cfg.alerts);
    // Certificate files are read now, not at a client's first login.
    if (cfg.client_tls.sslmode != SslMode::disable) {
      try {
        net::make_server_tls_context(cfg.client_tls, wire::kAlpnProtocol);
      } catch (const std::runtime_error& e) {
        throw ConfigError(fmt::format("{}: proxy: {}", cfg.source, e.what()));
      }
    }
    for (const auto& [name, db] : cfg.databases) {
      const ServerTls tls = db.tls.apply_to(cfg.server_tls);
      if (tls.sslmode == SslMode::disable) continue;
      try {
        net::make_client_tls_context(tls.sslrootcert, tls.sslcert, tls.sslkey);
      } catch (const std::runtime_error& e) {
        throw ConfigError(fmt::format("databases.{}: {}", name, e.what()));
      }
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "pgwarden proxy: " << cfg.source << ": " << e.what() << "\n";
    return 2;
  } catch (const ConfigError& e) {
    std::cerr << "pgwarden proxy: " << e.what() << "\n";
    return 2;
  }

  observe::EventBus bus;
  try {
    exporter::add_event_sinks(bus, cfg.events, f.events);
  } catch (const std::exception& e) {
    std::cerr << "pgwarden proxy: " << e.what() << "\n";
    return 2;
  }

  observe::Registry metrics;
  observe::count_events_into(metrics, bus);
  observe::export_sink_health(metrics, bus);
  proxy::Proxy px(cfg, bus, metrics);
  // Forensics and alerts watch the event stream from their own thread.
  std::unique_ptr<admin::Monitor> monitor;
  if (cfg.forensics.enabled || !cfg.alerts.rules.empty()) {
    monitor = std::make_unique<admin::Monitor>(cfg, px, bus, metrics);
    monitor->start();
  }
  if (!f.config.empty())
    px.set_config_source(f.config, [&f](ProxyConfig& c) { apply_flags(f, c); });
  try {
    px.bind();
  } catch (const std::exception& e) {
    std::cerr << "pgwarden proxy: " << e.what() << "\n";
    return 1;
  }
  std::unique_ptr<admin::HttpServer> admin_http;
  if (cfg.admin.listen) {
    admin_http = std::make_unique<admin::HttpServer>(*cfg.admin.listen);
    admin::ApiSources api{px, bus, metrics, {}, {}};
    if (monitor) {
      api.findings = [m = monitor.get()] { return m->findings_json(); };
      api.alerts = [m = monitor.get()] { return m->alerts_json(); };
    }
    admin::install_api(*admin_http, std::move(api));
    try {
      admin_http->start();
    } catch (const std::exception& e) {
      std::cerr << "pgwarden proxy: " << e.what() << "\n";
      return 1;
    }
    spdlog::info("admin API and /metrics on http://{}", admin_http->bound().str());
  }
  for (auto& hp : px.bound()) spdlog::info("listening on {}", hp.str());
  for (auto& [name, db] : cfg.databases)
    spdlog::info("database {} -> {}:{}/{} ({} mode)", name, db.host, db.port, db.dbname,
                 to_string(db.pool_mode.value_or(cfg.pool_mode)));

  std::thread watcher([&] {
    for (;;) {
      int sig = 0;
      sigwait(&set, &sig);
      if (sig == SIGUSR1) {
        bus.reopen_sinks();  // logrotate moved the event file
        continue;
      }
      if (sig == SIGHUP) {
        if (auto problem = px.reload(); !problem.empty()) spdlog::error("SIGHUP: {}", problem);
        continue;
      }
      if (sig == SIGTERM && !px.draining()) {
        // The first SIGTERM drains; SIGINT or a second SIGTERM stops at once.
        spdlog::info("received SIGTERM, draining (SIGINT or another SIGTERM stops at once)");
        px.drain();
        continue;
      }
      spdlog::info("received signal {}, shutting down", sig);
      px.stop();
      return;
    }
  });
  px.run();
  // Wake the watcher if run() ended on its own (a finished drain included).
  pthread_kill(watcher.native_handle(), SIGINT);
  watcher.join();
  if (admin_http) admin_http->stop();
  if (monitor) monitor->stop();
  bus.flush(std::chrono::seconds(2));  // what the sinks still hold
  if (f.summary) print_summary(bus);
  return 0;
}

}  // namespace

Command add_proxy_command(CLI::App& root) {
  auto flags = std::make_shared<ProxyFlags>();
  Command c;
  c.app = root.add_subcommand("proxy", "Run the pooling PostgreSQL proxy");
  auto* app = c.app;
  app->footer(
      "Example:\n  pgwarden proxy --listen 127.0.0.1:6432 --backend "
      "postgres://app:secret@db:5432/app --mode transaction --pool-size 20\n"
      "Every config key: docs/configuration.md");
  app->add_option("-c,--config", flags->config, "TOML config file")->check(CLI::ExistingFile);
  app->add_option("-l,--listen", flags->listen, "HOST:PORT to listen on (repeatable)");
  app->add_option("-b,--backend", flags->backend,
                  "postgres://USER:PASSWORD@HOST:PORT/DB; clients log in as USER with PASSWORD");
  app->add_option("-m,--mode", flags->mode, "pool mode: session or transaction")
      ->check(CLI::IsMember({"session", "transaction"}));
  app->add_option("--pool-size", flags->pool_size, "server connections per (database, user)")
      ->check(CLI::Range(1, 100000));
  app->add_option("--workers", flags->workers, "worker threads (0 = one per core)")
      ->check(CLI::Range(0, 256));
  app->add_option("--max-client-conn", flags->max_client_conn, "client connections accepted")
      ->check(CLI::Range(1, 1000000));
  app->add_option("--auth", flags->auth, "client auth: trust, cleartext, md5, scram-sha-256")
      ->check(CLI::IsMember({"trust", "cleartext", "md5", "scram-sha-256"}));
  app->add_option("--events", flags->events,
                  "event sink (repeatable): stdout, file:PATH, syslog[:ADDRESS], loki:URL, "
                  "otlp:URL (docs/sinks.md)");
  app->add_option("--admin", flags->admin,
                  "HOST:PORT (or PORT, on 127.0.0.1) for /metrics and the JSON admin API");
  app->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error, off");
  app->add_flag("--summary", flags->summary, "print event and close-cause counts on exit");
  c.run = [flags] {
    if (flags->config.empty() && flags->backend.empty()) {
      std::cerr << "pgwarden proxy: give --config FILE or --backend URL (see --help)\n";
      return 2;
    }
    return run_proxy(*flags);
  };
  return c;
}

}  // namespace pgw::cli

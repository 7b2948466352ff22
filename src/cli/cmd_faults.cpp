// `pgwarden faults`: the fault-injecting relay with a Toxiproxy-compatible API.
#include <csignal>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "pgwarden/admin/faults_api.hpp"
#include "pgwarden/core/faults_config.hpp"
#include "pgwarden/core/log.hpp"
#include "pgwarden/export/sink_factory.hpp"
#include "pgwarden/faults/relay.hpp"
#include "pgwarden/observe/event_metrics.hpp"

namespace pgw::cli {

namespace {

struct FaultsFlags {
  std::string api;
  std::string config;
  std::vector<std::string> proxies;  // NAME,LISTEN,UPSTREAM
  std::vector<std::string> toxics;   // PROXY,TYPE[,KEY=VALUE...]
  std::vector<std::string> events;
  std::string log_level = "info";
};

constexpr const char* kDefaultApi = "127.0.0.1:8474";  // toxiproxy-server's

int run_faults(const FaultsFlags& f) {
  setup_logging(f.log_level);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts
  std::signal(SIGPIPE, SIG_IGN);

  FaultsConfig cfg;
  try {
    if (!f.config.empty()) {
      cfg = load_faults_config(f.config, faults::check_toxic_config);
    }
    add_flag_proxies(cfg, f.proxies, f.toxics, faults::check_toxic_config);
  } catch (const ConfigError& e) {
    std::cerr << "pgwarden faults: " << e.what() << "\n";
    return 2;
  }
  std::optional<HostPort> api = cfg.api;
  if (!f.api.empty() || !api) {
    api = parse_host_port(f.api.empty() ? kDefaultApi : f.api);
    if (!api) {
      std::cerr << "pgwarden faults: --api " << f.api << ": expected HOST:PORT\n";
      return 2;
    }
  }

  observe::EventBus bus;
  try {
    exporter::add_event_sinks(bus, cfg.events, f.events);
  } catch (const std::exception& e) {
    std::cerr << "pgwarden faults: " << e.what() << "\n";
    return 2;
  }
  observe::Registry metrics;
  observe::count_events_into(metrics, bus);
  observe::export_sink_health(metrics, bus);

  faults::Relay relay(bus, metrics);
  for (const auto& p : cfg.proxies) {
    std::vector<faults::ToxicSpec> toxics;
    for (const auto& t : p.toxics) {
      faults::ToxicSpec spec;
      faults::toxic_from_config(t, spec);  // checked when the file was read
      toxics.push_back(spec);
    }
    try {
      auto view = relay.create({p.name, p.listen, p.upstream, p.enabled}, toxics);
      spdlog::info("proxy {}: {} -> {} ({} toxics{})", p.name, view.spec.listen, p.upstream,
                   toxics.size(), p.enabled ? "" : ", disabled");
    } catch (const std::exception& e) {
      std::cerr << fmt::format("pgwarden faults: proxy {} ({} -> {}): {}\n", p.name, p.listen,
                               p.upstream, e.what());
      return 1;
    }
  }
  relay.start();
  admin::HttpServer http(*api);
  admin::install_faults_api(http, relay, metrics);
  try {
    http.start();
  } catch (const std::exception& e) {
    std::cerr << "pgwarden faults: " << e.what() << "\n";
    relay.stop();
    return 1;
  }
  spdlog::info("faults API (Toxiproxy-compatible) and /metrics on http://{}", http.bound().str());

  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("received signal {}, shutting down", sig);
  http.stop();
  relay.stop();
  bus.flush(std::chrono::seconds(2));
  return 0;
}

}  // namespace

Command add_faults_command(CLI::App& root) {
  auto flags = std::make_shared<FaultsFlags>();
  Command c;
  c.app = root.add_subcommand(
      "faults", "Run a fault-injecting TCP relay with a Toxiproxy-compatible HTTP API");
  auto* app = c.app;
  app->footer(
      "Examples:\n  pgwarden faults --api 127.0.0.1:8474 --config faults.toml\n"
      "  pgwarden faults --proxy pg,127.0.0.1:25432,127.0.0.1:5432 \\\n"
      "    --toxic pg,latency,latency=100,jitter=10\n"
      "The API, every toxic and the config: docs/faults.md");
  app->add_option("--api", flags->api,
                  "HOST:PORT of the HTTP API (default 127.0.0.1:8474, or [faults] api)");
  app->add_option("-c,--config", flags->config, "TOML file: proxies and their toxics at startup")
      ->check(CLI::ExistingFile);
  app->add_option("--proxy", flags->proxies,
                  "NAME,LISTEN,UPSTREAM: a proxy at startup (repeatable; after the config's)");
  app->add_option("--toxic", flags->toxics,
                  "PROXY,TYPE[,KEY=VALUE...]: a toxic at startup (repeatable); KEY is name, "
                  "stream, toxicity or an attribute of TYPE");
  app->add_option("--events", flags->events,
                  "event sink (repeatable): stdout, file:PATH, syslog[:ADDRESS], loki:URL, "
                  "otlp:URL (docs/sinks.md)");
  app->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error, off");
  c.run = [flags] { return run_faults(*flags); };
  return c;
}

}  // namespace pgw::cli

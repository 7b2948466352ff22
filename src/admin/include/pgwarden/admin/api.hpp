#pragma once
// The admin API: what the HTTP listener serves. GET /metrics (Prometheus
// text), /api/pools, /api/clients, /api/servers, /api/hosts, /api/events?since=,
// /api/drops?cause=, /api/diagnosis, /api/alerts, /healthz. Every answer is
// built from the live proxy and the event bus at request time.
#include <functional>

#include <nlohmann/json.hpp>

#include "pgwarden/admin/http_server.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/observe/metrics.hpp"
#include "pgwarden/proxy/proxy.hpp"

namespace pgw::admin {

struct ApiSources {
  proxy::Proxy& proxy;
  observe::EventBus& bus;
  observe::Registry& metrics;
  // Optional views owned elsewhere (forensics, alerts): JSON producers.
  std::function<nlohmann::json()> findings;
  std::function<nlohmann::json()> alerts;
};

void install_api(HttpServer& server, ApiSources sources);

// "2026-11-27T06:10:09.123456Z" (fraction optional); nullopt if malformed.
std::optional<observe::SystemClock::time_point> parse_rfc3339(const std::string& text);

}  // namespace pgw::admin
